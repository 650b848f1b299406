// Descent from Swift: tensors, an update rule, an optimizer with a schedule, an analytic
// gradient checked numerically, and a small classifier trained by a graph and the fit loop.
// Every call that can fail throws a `DescentError` (typed throws): its `code` is the same status
// the C ABI returns and its `message` says what was wrong.
import Descent
#if canImport(Glibc)
import Glibc
#endif

func section(_ title: String) { print("\n== \(title)") }

do throws(DescentError) {
    // 1. Plain gradient descent on J(W) = 0.1 (W - 5)^2 from W = 10.
    section("gradient descent: J(W) = 0.1 (W - 5)^2 from W = 10, learning rate 1")
    let w = try Tensor([10.0])
    let g = try Tensor([0.0])
    for _ in 0..<50 {
        try g.assign([0.2 * (try w.toArray(Double.self)[0] - 5)])   // dJ/dW
        try GradientDescent.step(w, gradient: g, learningRate: 1.0)
    }
    print("W after 50 steps: \(try w.toArray(Double.self)[0])")       // 5 + 5 * 0.8^50

    // 2. Adam (PyTorch's defaults and formula) on the Rosenbrock function, the learning rate
    //    following a cosine schedule that starts at the optimizer's own rate.
    section("Adam with cosine annealing on Rosenbrock f(x, y) = (1 - x)^2 + 100 (y - x^2)^2")
    let point = try Tensor([-1.5, 2.0])
    let gradient = try Tensor.zeros(dtype: .float64, shape: [2])
    let adam = Optimizer(rule: .adam)
    _ = try adam.addGroup([point])
    try adam.setHyperparameter(group: 0, .learningRate, 0.05)
    try adam.bindGradients([gradient])
    let steps: Int64 = 3000
    let schedule = try LearningRateSchedule.cosine(initial: 0.05, period: steps, minimum: 0)
    for t in 0..<steps {
        let p = try point.toArray(Double.self), (x, y) = (p[0], p[1])
        try gradient.assign([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])
        try adam.setHyperparameter(group: 0, .learningRate, try schedule.value(at: t))
        try adam.step()
    }
    let end = try point.toArray(Double.self)
    print("after \(steps) steps: (x, y) = (\(end[0]), \(end[1])); the minimum is (1, 1)")

    // 3. An analytic gradient (softmax cross-entropy) against a centered difference.
    section("softmax cross-entropy gradient vs a numerical gradient")
    let logits = try Tensor([0.2, -1.0, 0.5, 1.5, 0.3, -0.2], shape: [2, 3])
    let labels = [2, 0]
    let analytic = try Tensor.zeros(dtype: .float64, shape: [2, 3])
    let loss = try ClassificationLoss.softmaxCrossEntropy(logits: logits, labels: labels, reduction: .mean,
                                                          gradient: analytic)
    let check = try GradientCheck.check({ (z: Tensor) throws(DescentError) -> Double in
        try ClassificationLoss.softmaxCrossEntropy(logits: z, labels: labels, reduction: .mean, gradient: nil)
    }, at: logits, analytic: analytic, step: 1e-5, method: .centered, floor: 1e-8, sampleCount: 0, seed: 0)
    print("loss \(loss), largest relative error \(check.maxError)")

    // 4. A two-layer classifier as a graph, trained by Trainer.fit on two Gaussian blobs.
    section("a 2-16-2 classifier trained by the fit loop (Adam, mini-batches of 16)")
    let n = 200
    let noise = try Tensor.randomNormal(seed: 7, mean: 0, std: 0.6, dtype: .float64, shape: [n, 2])
    var inputs = try noise.toArray(Double.self)
    var classes: [Int64] = []
    for i in 0..<n {
        let label = Int64(i % 2)
        inputs[2 * i] += label == 0 ? -1.5 : 1.5
        inputs[2 * i + 1] += label == 0 ? 1.0 : -1.0
        classes.append(label)
    }
    let x = try Tensor(inputs, shape: [n, 2])
    let graph = Graph(dtype: .float64)
    let input = try graph.addInput(shape: [-1, 2])
    let targets = try graph.addLabels()
    let w1 = try graph.addParameter(Tensor.zeros(dtype: .float64, shape: [16, 2]),
                                    initializer: .scheme(.heNormal, gain: 1))
    let b1 = try graph.addParameter(Tensor.zeros(dtype: .float64, shape: [16]), initializer: .zeros)
    let w2 = try graph.addParameter(Tensor.zeros(dtype: .float64, shape: [2, 16]),
                                    initializer: .scheme(.xavierNormal, gain: 1))
    let b2 = try graph.addParameter(Tensor.zeros(dtype: .float64, shape: [2]), initializer: .zeros)
    try graph.initializeParameters(seed: 1)
    let hidden = try graph.addDense(input, weights: w1, bias: b1, activation: .relu)
    let scores = try graph.addDense(hidden, weights: w2, bias: b2, activation: .identity)
    let cost = try graph.addCost(.softmaxCrossEntropy, prediction: scores, target: targets)
    let optimizer = Optimizer(rule: .adam)
    _ = try optimizer.addGroup(try graph.parameters.map { (index) throws(DescentError) -> Tensor in
        try graph.parameterTensor(index)
    })
    try optimizer.setHyperparameter(group: 0, .learningRate, 0.01)
    let trainer = try Trainer(graph: graph, optimizer: optimizer, loss: cost)
    try trainer.setNodes(input: input, target: targets, output: scores)
    let loader = try DataLoader(inputs: x, labels: classes, batchSize: 16, seed: 3)
    var options = FitOptions()
    options.epochs = 30
    let result = try trainer.fit(train: loader, validation: nil, options: options)
    let first = result.epochs.first!, last = result.epochs.last!
    print("epoch 1: loss \(first.loss), accuracy \(first.accuracy)")
    print("epoch \(result.epochs.count): loss \(last.loss), accuracy \(last.accuracy)")
    let evaluation = try trainer.evaluate(loader)
    print("evaluate: loss \(evaluation.loss), accuracy \(evaluation.accuracy)")

    // 5. Bad input is a typed error, never a crash.
    section("bad input")
    do throws(DescentError) {
        try GradientDescent.step(w, gradient: try Tensor([1.0, 2.0]), learningRate: 0.1)
    } catch {
        print("caught \(error.code): \(error.message)")
    }
} catch {
    print("unexpected error: \(error)")
    exit(1)
}
