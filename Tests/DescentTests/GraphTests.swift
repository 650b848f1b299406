import XCTest
@testable import Descent

final class GraphTests: XCTestCase {
    private func tensor(_ values: [Double], _ shape: [Int]) throws -> Tensor {
        let result = try Tensor.zeros(dtype: .float64, shape: shape)
        for (i, value) in values.enumerated() { result.setValue(value, at: i) }
        return result
    }

    /// The textbook's graph: J = 3(a + bc), u = bc, v = a + u, at a = 5, b = 3, c = 2.
    func testTextbookGraph() throws {
        let graph = Graph(dtype: .float64)
        let a = try graph.addParameter(tensor([5], []))
        let b = try graph.addParameter(tensor([3], []))
        let c = try graph.addParameter(tensor([2], []))
        let u = try graph.addBinary(.multiply, b, c)
        let v = try graph.addBinary(.add, a, u)
        let j = try graph.addBinary(.multiply, graph.addScalar(3), v)
        XCTAssertEqual(try graph.backward(j), 33)
        XCTAssertEqual(try graph.gradient(of: a).value(at: 0), 3)
        XCTAssertEqual(try graph.gradient(of: b).value(at: 0), 6)
        XCTAssertEqual(try graph.gradient(of: c).value(at: 0), 9)
        XCTAssertEqual(try graph.forward(v).value(at: 0), 11)
    }

    /// d/dx of sum(x * x) is 2x (one node read twice accumulates), and of mean(exp(x)) is e^x / n.
    func testRepeatedOperandAndReductions() throws {
        let graph = Graph(dtype: .float64)
        let values = [0.5, -1.25, 2.0]
        let x = try graph.addParameter(tensor(values, [3]))
        let square = try graph.addReduce(.sumAll, graph.addBinary(.multiply, x, x))
        try graph.backward(square)
        for i in 0..<3 { XCTAssertEqual(try graph.gradient(of: x).value(at: i), 2 * values[i], accuracy: 1e-15) }
        let mean = try graph.addReduce(.meanAll, graph.addUnary(.exp, x))
        try graph.backward(mean)
        for i in 0..<3 { XCTAssertEqual(try graph.gradient(of: x).value(at: i), Foundation.exp(values[i]) / 3, accuracy: 1e-15) }
    }

    /// A dense tanh layer with MSE against centered differences of the graph's own forward
    /// (the NumPy suite checks the values against independent references).
    func testDenseGradientMatchesCenteredDifferences() throws {
        let graph = Graph(dtype: .float64)
        let input = try graph.addInput(shape: [batchExtent, 3])
        let target = try graph.addInput(shape: [batchExtent, 2])
        let weights = try tensor([0.3, -0.2, 0.5, 0.1, 0.4, -0.6], [2, 3])
        let bias = try tensor([0.05, -0.1], [2])
        let w = try graph.addParameter(weights), b = try graph.addParameter(bias)
        let out = try graph.addDense(input, weights: w, bias: b, activation: .tanh)
        let loss = try graph.addCost(.meanSquared, prediction: out, target: target)
        try graph.bindInput(input, tensor([1, 2, -1, 0.5, -0.3, 0.8], [2, 3]))
        try graph.bindInput(target, tensor([0.1, -0.2, 0.3, 0.0], [2, 2]))
        try graph.backward(loss)
        let analytic = try graph.gradient(of: w).copy()
        for i in 0..<6 {
            let saved = weights.value(at: i)
            weights.setValue(saved + 1e-6, at: i)
            let up = try graph.forward(loss).value(at: 0)
            weights.setValue(saved - 1e-6, at: i)
            let down = try graph.forward(loss).value(at: 0)
            weights.setValue(saved, at: i)
            XCTAssertEqual(analytic.value(at: i), (up - down) / 2e-6, accuracy: 1e-8)
        }
    }

    func testBadInputIsRejectedBeforeAnythingRuns() throws {
        let graph = Graph(dtype: .float64)
        let input = try graph.addInput(shape: [batchExtent, 2])
        let labels = try graph.addLabels()
        let w = try graph.addParameter(tensor([1, 0, 0, 1, 1, 1], [3, 2]))
        XCTAssertThrowsError(try graph.addMatmul(input, w, transposeA: false, transposeB: false))
        let logits = try graph.addMatmul(input, w, transposeA: false, transposeB: true)
        let loss = try graph.addCost(.softmaxCrossEntropy, prediction: logits, target: labels)
        XCTAssertThrowsError(try graph.backward(loss)) { error in
            XCTAssertEqual((error as? DescentError)?.code, .invalidArgument)  // input not bound
        }
        try graph.bindInput(input, tensor([1, 2, 3, 4], [2, 2]))
        var bad: [Int64] = [0, 3]
        try graph.bindLabels(labels, &bad, count: 2)
        XCTAssertThrowsError(try graph.backward(loss))  // label 3 of 3 classes
        var good: [Int64] = [0, 2]
        try graph.bindLabels(labels, &good, count: 2)
        XCTAssertTrue(try graph.backward(loss).isFinite)
    }

    /// One trainer step with SGD equals W - lr * dW of a plain backward.
    func testTrainerStepIsOneSGDUpdate() throws {
        let graph = Graph(dtype: .float64)
        let input = try graph.addInput(shape: [batchExtent, 2])
        let target = try graph.addInput(shape: [batchExtent, 1])
        let weights = try tensor([0.5, -0.25], [1, 2])
        let w = try graph.addParameter(weights)
        let prediction = try graph.addMatmul(input, w, transposeA: false, transposeB: true)
        let loss = try graph.addCost(.sumOfSquares, prediction: prediction, target: target)
        try graph.bindInput(input, tensor([1, 2, 3, -1], [2, 2]))
        try graph.bindInput(target, tensor([1, 0], [2, 1]))
        try graph.backward(loss)
        let gradient = try graph.gradient(of: w).copy()
        let optimizer = Optimizer(rule: .sgd)
        _ = try optimizer.addGroup([weights])
        try optimizer.setHyperparameter(group: 0, .learningRate, 0.1)
        let trainer = try Trainer(graph: graph, optimizer: optimizer, loss: loss)
        let before = [weights.value(at: 0), weights.value(at: 1)]
        try trainer.step()
        for i in 0..<2 { XCTAssertEqual(weights.value(at: i), before[i] - 0.1 * gradient.value(at: i), accuracy: 1e-15) }
        XCTAssertEqual(try optimizer.summary.stepCount, 1)
    }

    /// Shuffles depend only on (seed, epoch): the same loader settings give the same order.
    func testLoaderShufflesAreReproducible() throws {
        let inputs = try tensor((0..<20).map(Double.init), [10, 2])
        let first = try DataLoader(inputs: inputs, targets: nil, labels: nil, labelCount: 0, batchSize: 4,
                                   shuffle: true, dropLast: false, seed: 9)
        let second = try DataLoader(inputs: inputs, targets: nil, labels: nil, labelCount: 0, batchSize: 4,
                                    shuffle: true, dropLast: false, seed: 9)
        XCTAssertEqual(first.batchCount, 3)
        try first.setEpoch(3)
        try second.setEpoch(3)
        var seen = Set<Int>()
        for batch in 0..<3 {
            XCTAssertEqual(Array(try first.indices(ofBatch: batch)), Array(try second.indices(ofBatch: batch)))
            seen.formUnion(try first.indices(ofBatch: batch))
        }
        XCTAssertEqual(seen, Set(0..<10))
    }
}
