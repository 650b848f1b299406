import Descent

// C exports for activations, costs, the delta rule and L2 regularization. Shims only: each
// validates its arguments (the core validates everything before writing) and forwards.

/// A tensor argument that may be the null handle 0 (meaning "not wanted").
func optionalTensor(_ handle: UInt64, _ role: String) throws(DescentError) -> Tensor? {
    handle == 0 ? nil : try tensor(handle, role)
}

/// Reads `count` labels from C into Ints, after checking that the count is the batch size of
/// `scores` (rank 2), so a wrong count never makes us read or allocate beyond the batch.
func readLabels(_ labels: UnsafePointer<Int64>?, _ count: Int64, batchOf scores: Tensor,
                _ role: String) throws(DescentError) -> [Int] {
    let length = try readCount(count, "label count")
    let (batch, _) = try scores.requireMatrix(role)
    guard length == batch else { throw DescentError(.shape, "\(length) labels for a batch of \(batch)") }
    if length == 0 { return [] }
    let source = try required(labels, "labels")
    return (0..<length).map { Int(source[$0]) }
}

/// Runs a loss body and writes its value to `out` on success.
private func loss(_ name: StaticString, _ out: UnsafeMutablePointer<Double>?,
                  _ body: () throws(DescentError) -> Double) -> Int32 {
    exported(name) { () throws(DescentError) in
        let destination = try required(out, "loss")
        let value = try body()
        destination.pointee = value
    }
}

@c public func descent_activation_forward(_ activation: Int32, _ negativeSlope: Double, _ x: UInt64,
                                          _ y: UInt64) -> Int32 {
    exported("descent_activation_forward") { () throws(DescentError) in
        try Activation(checking: activation).forward(tensor(x, "x"), into: tensor(y, "y"), negativeSlope: negativeSlope)
    }
}

@c public func descent_activation_derivative(_ activation: Int32, _ negativeSlope: Double, _ x: UInt64,
                                             _ out: UInt64) -> Int32 {
    exported("descent_activation_derivative") { () throws(DescentError) in
        try Activation(checking: activation).derivative(tensor(x, "x"), into: tensor(out, "out"),
                                                        negativeSlope: negativeSlope)
    }
}

@c public func descent_activation_backward(_ activation: Int32, _ negativeSlope: Double, _ x: UInt64,
                                           _ dy: UInt64, _ dx: UInt64) -> Int32 {
    exported("descent_activation_backward") { () throws(DescentError) in
        try Activation(checking: activation).backward(tensor(x, "x"), outputGradient: tensor(dy, "dy"),
                                                      into: tensor(dx, "dx"), negativeSlope: negativeSlope)
    }
}

@c public func descent_loss_sse(_ prediction: UInt64, _ target: UInt64, _ gradient: UInt64,
                                _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    loss("descent_loss_sse", out) { () throws(DescentError) in
        try Loss.sumOfSquares(prediction: tensor(prediction, "prediction"), target: tensor(target, "target"),
                              gradient: optionalTensor(gradient, "grad"))
    }
}

@c public func descent_loss_quadratic(_ prediction: UInt64, _ target: UInt64, _ gradient: UInt64,
                                      _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    loss("descent_loss_quadratic", out) { () throws(DescentError) in
        try Loss.quadratic(prediction: tensor(prediction, "prediction"), target: tensor(target, "target"),
                           gradient: optionalTensor(gradient, "grad"))
    }
}

@c public func descent_loss_mse(_ prediction: UInt64, _ target: UInt64, _ gradient: UInt64,
                                _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    loss("descent_loss_mse", out) { () throws(DescentError) in
        try Loss.meanSquared(prediction: tensor(prediction, "prediction"), target: tensor(target, "target"),
                             gradient: optionalTensor(gradient, "grad"))
    }
}

@c public func descent_loss_bce(_ probabilities: UInt64, _ target: UInt64, _ epsilon: Double, _ reduction: Int32,
                                _ gradient: UInt64, _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    loss("descent_loss_bce", out) { () throws(DescentError) in
        try Loss.binaryCrossEntropy(probabilities: tensor(probabilities, "probabilities"), target: tensor(target, "target"),
                                    epsilon: epsilon, reduction: Reduction(checking: reduction),
                                    gradient: optionalTensor(gradient, "grad"))
    }
}

@c public func descent_loss_bce_logits(_ logits: UInt64, _ target: UInt64, _ reduction: Int32, _ gradient: UInt64,
                                       _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    loss("descent_loss_bce_logits", out) { () throws(DescentError) in
        try Loss.binaryCrossEntropyWithLogits(logits: tensor(logits, "logits"), target: tensor(target, "target"),
                                              reduction: Reduction(checking: reduction),
                                              gradient: optionalTensor(gradient, "grad"))
    }
}

@c public func descent_loss_softmax_cross_entropy(_ logits: UInt64, _ labels: UnsafePointer<Int64>?, _ labelCount: Int64,
                                                  _ reduction: Int32, _ gradient: UInt64,
                                                  _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    loss("descent_loss_softmax_cross_entropy", out) { () throws(DescentError) in
        let scores = try tensor(logits, "logits")
        return try ClassificationLoss.softmaxCrossEntropy(logits: scores, labels: readLabels(labels, labelCount, batchOf: scores, "logits"),
                                                   reduction: Reduction(checking: reduction),
                                                   gradient: optionalTensor(gradient, "grad"))
    }
}

@c public func descent_loss_multiclass_hinge(_ scores: UInt64, _ labels: UnsafePointer<Int64>?, _ labelCount: Int64,
                                             _ margin: Double, _ reduction: Int32, _ gradient: UInt64,
                                             _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    loss("descent_loss_multiclass_hinge", out) { () throws(DescentError) in
        let matrix = try tensor(scores, "scores")
        return try ClassificationLoss.multiclassHinge(scores: matrix, labels: readLabels(labels, labelCount, batchOf: matrix, "scores"),
                                               margin: margin, reduction: Reduction(checking: reduction),
                                               gradient: optionalTensor(gradient, "grad"))
    }
}

@c public func descent_loss_multiclass_hinge_linear(_ weights: UInt64, _ inputs: UInt64, _ labels: UnsafePointer<Int64>?,
                                                    _ labelCount: Int64, _ margin: Double, _ reduction: Int32,
                                                    _ weightGradient: UInt64, _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    loss("descent_loss_multiclass_hinge_linear", out) { () throws(DescentError) in
        let samples = try tensor(inputs, "X")
        return try ClassificationLoss.multiclassHingeLinear(weights: tensor(weights, "W"), inputs: samples,
                                                     labels: readLabels(labels, labelCount, batchOf: samples, "X"), margin: margin,
                                                     reduction: Reduction(checking: reduction),
                                                     weightGradient: optionalTensor(weightGradient, "dW"))
    }
}

@c public func descent_l2_penalty(_ weights: UInt64, _ lambda: Double, _ m: Int64, _ gradient: UInt64,
                                  _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    loss("descent_l2_penalty", out) { () throws(DescentError) in
        guard m >= 1, m <= Int64(Int32.max) * 1024 else { throw DescentError(.invalidArgument, "m must be >= 1, got \(m)") }
        return try L2Penalty.compute(weights: tensor(weights, "W"), lambda: lambda, m: Int(m),
                                     gradient: optionalTensor(gradient, "grad"))
    }
}

@c public func descent_delta_rule(_ weights: UInt64, _ inputs: UInt64, _ target: Double, _ learningRate: Double,
                                  _ weightStep: UInt64, _ h: UnsafeMutablePointer<Double>?,
                                  _ prediction: UnsafeMutablePointer<Double>?,
                                  _ delta: UnsafeMutablePointer<Double>?) -> Int32 {
    exported("descent_delta_rule") { () throws(DescentError) in
        let result = try DeltaRule.step(weights: tensor(weights, "w"), inputs: tensor(inputs, "x"), target: target,
                                        learningRate: learningRate, weightStep: tensor(weightStep, "dw"))
        h?.pointee = result.h
        prediction?.pointee = result.prediction
        delta?.pointee = result.delta
    }
}
