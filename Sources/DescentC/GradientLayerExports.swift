import Descent

// C exports for the dense layer, batch normalization and weight initialization. Shims only.

@c public func descent_dense_forward(_ inputs: UInt64, _ weights: UInt64, _ bias: UInt64, _ activation: Int32,
                                     _ negativeSlope: Double, _ preActivation: UInt64, _ output: UInt64) -> Int32 {
    exported("descent_dense_forward") { () throws(DescentError) in
        try Dense.forward(inputs: tensor(inputs, "a"), weights: tensor(weights, "W"), bias: optionalTensor(bias, "b"),
                          activation: Activation(checking: activation), negativeSlope: negativeSlope,
                          preActivation: tensor(preActivation, "z"), output: tensor(output, "out"))
    }
}

@c public func descent_dense_backward(_ inputs: UInt64, _ weights: UInt64, _ preActivation: UInt64,
                                      _ outputGradient: UInt64, _ activation: Int32, _ negativeSlope: Double,
                                      _ weightGradient: UInt64, _ biasGradient: UInt64, _ inputGradient: UInt64) -> Int32 {
    exported("descent_dense_backward") { () throws(DescentError) in
        try Dense.backward(inputs: tensor(inputs, "a"), weights: tensor(weights, "W"),
                           preActivation: tensor(preActivation, "z"), outputGradient: tensor(outputGradient, "dout"),
                           activation: Activation(checking: activation), negativeSlope: negativeSlope,
                           weightGradient: tensor(weightGradient, "dW"), biasGradient: optionalTensor(biasGradient, "db"),
                           inputGradient: optionalTensor(inputGradient, "da"))
    }
}

@c public func descent_batchnorm_forward_train(_ x: UInt64, _ gamma: UInt64, _ beta: UInt64, _ runningMean: UInt64,
                                               _ runningVariance: UInt64, _ momentum: Double, _ epsilon: Double,
                                               _ y: UInt64, _ savedMean: UInt64, _ savedInverseStd: UInt64) -> Int32 {
    exported("descent_batchnorm_forward_train") { () throws(DescentError) in
        try BatchNorm.forwardTraining(input: tensor(x, "x"), gamma: tensor(gamma, "gamma"), beta: tensor(beta, "beta"),
                                      runningMean: tensor(runningMean, "running_mean"),
                                      runningVariance: tensor(runningVariance, "running_var"),
                                      momentum: momentum, epsilon: epsilon, output: tensor(y, "y"),
                                      savedMean: tensor(savedMean, "save_mean"),
                                      savedInverseStd: tensor(savedInverseStd, "save_invstd"))
    }
}

@c public func descent_batchnorm_backward(_ x: UInt64, _ gamma: UInt64, _ savedMean: UInt64, _ savedInverseStd: UInt64,
                                          _ dy: UInt64, _ dx: UInt64, _ gammaGradient: UInt64,
                                          _ betaGradient: UInt64) -> Int32 {
    exported("descent_batchnorm_backward") { () throws(DescentError) in
        try BatchNorm.backward(input: tensor(x, "x"), gamma: tensor(gamma, "gamma"),
                               savedMean: tensor(savedMean, "save_mean"),
                               savedInverseStd: tensor(savedInverseStd, "save_invstd"),
                               outputGradient: tensor(dy, "dy"), inputGradient: tensor(dx, "dx"),
                               gammaGradient: tensor(gammaGradient, "dgamma"), betaGradient: tensor(betaGradient, "dbeta"))
    }
}

@c public func descent_batchnorm_forward_infer(_ x: UInt64, _ gamma: UInt64, _ beta: UInt64, _ runningMean: UInt64,
                                               _ runningVariance: UInt64, _ epsilon: Double, _ y: UInt64) -> Int32 {
    exported("descent_batchnorm_forward_infer") { () throws(DescentError) in
        try BatchNorm.forwardInference(input: tensor(x, "x"), gamma: tensor(gamma, "gamma"), beta: tensor(beta, "beta"),
                                       runningMean: tensor(runningMean, "running_mean"),
                                       runningVariance: tensor(runningVariance, "running_var"),
                                       epsilon: epsilon, output: tensor(y, "y"))
    }
}

@c public func descent_init_fill(_ target: UInt64, _ scheme: Int32, _ seed: UInt64, _ gain: Double) -> Int32 {
    exported("descent_init_fill") { () throws(DescentError) in
        try WeightInit(checking: scheme).fill(tensor(target, "tensor"), seed: seed, gain: gain)
    }
}

@c public func descent_init_fans(_ rank: Int64, _ shape: UnsafePointer<Int64>?, _ fanIn: UnsafeMutablePointer<Int64>?,
                                 _ fanOut: UnsafeMutablePointer<Int64>?) -> Int32 {
    exported("descent_init_fans") { () throws(DescentError) in
        let dims = try readShape(rank: rank, shape: shape)
        let inDestination = try required(fanIn, "fan_in")
        let outDestination = try required(fanOut, "fan_out")
        // Overflow-checked like a tensor's element count.
        _ = try Shape.elementCount(dims, dtype: .float32)
        let fans = try WeightInit.fans(dims)
        inDestination.pointee = Int64(fans.fanIn)
        outDestination.pointee = Int64(fans.fanOut)
    }
}
