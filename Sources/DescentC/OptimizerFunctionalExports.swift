import Descent

// C exports of the stateless update rules: `descent_<rule>_step`. Shims only: arguments become a
// Hyperparameters value and FunctionalStep.apply does the checking and the math.

private func functional(_ name: StaticString, _ rule: OptimizerRule, _ dtype: Int32, _ count: Int64,
                        _ param: UnsafeMutableRawPointer?, _ grad: UnsafeRawPointer?,
                        _ state: FunctionalStep.StateBuffers, _ step: Int64, _ flags: Int32,
                        muProduct: UnsafeMutablePointer<Double>? = nil,
                        _ configure: (inout Hyperparameters) -> Void) -> Int32 {
    exported(name) { () throws(DescentError) in
        let type = try DType(checking: dtype)
        let length = try readCount(count, "count")
        var hyper = Hyperparameters.defaults(for: rule)
        configure(&hyper)
        hyper.flags = OptimizerFlags(rawValue: flags)
        try FunctionalStep.apply(rule: rule, dtype: type, count: length, param: param, grad: grad,
                                 state: state, step: step, hyper: hyper, muProduct: muProduct)
    }
}

@c public func descent_sgd_step(_ dtype: Int32, _ count: Int64, _ param: UnsafeMutableRawPointer?,
                                _ grad: UnsafeRawPointer?, _ momentumBuffer: UnsafeMutableRawPointer?,
                                _ step: Int64, _ lr: Double, _ momentum: Double, _ dampening: Double,
                                _ weightDecay: Double, _ flags: Int32) -> Int32 {
    functional("descent_sgd_step", .sgd, dtype, count, param, grad, .init(momentumBuffer), step, flags) {
        $0.learningRate = lr; $0.momentum = momentum; $0.dampening = dampening; $0.weightDecay = weightDecay
    }
}

@c public func descent_adagrad_step(_ dtype: Int32, _ count: Int64, _ param: UnsafeMutableRawPointer?,
                                    _ grad: UnsafeRawPointer?, _ sum: UnsafeMutableRawPointer?,
                                    _ step: Int64, _ lr: Double, _ lrDecay: Double, _ weightDecay: Double,
                                    _ eps: Double, _ flags: Int32) -> Int32 {
    functional("descent_adagrad_step", .adagrad, dtype, count, param, grad, .init(sum), step, flags) {
        $0.learningRate = lr; $0.learningRateDecay = lrDecay; $0.weightDecay = weightDecay; $0.epsilon = eps
    }
}

@c public func descent_adadelta_step(_ dtype: Int32, _ count: Int64, _ param: UnsafeMutableRawPointer?,
                                     _ grad: UnsafeRawPointer?, _ squareAvg: UnsafeMutableRawPointer?,
                                     _ accDelta: UnsafeMutableRawPointer?, _ step: Int64, _ lr: Double,
                                     _ rho: Double, _ eps: Double, _ weightDecay: Double, _ flags: Int32) -> Int32 {
    functional("descent_adadelta_step", .adadelta, dtype, count, param, grad, .init(squareAvg, accDelta), step, flags) {
        $0.learningRate = lr; $0.rho = rho; $0.epsilon = eps; $0.weightDecay = weightDecay
    }
}

@c public func descent_rmsprop_step(_ dtype: Int32, _ count: Int64, _ param: UnsafeMutableRawPointer?,
                                    _ grad: UnsafeRawPointer?, _ squareAvg: UnsafeMutableRawPointer?,
                                    _ gradAvg: UnsafeMutableRawPointer?, _ momentumBuffer: UnsafeMutableRawPointer?,
                                    _ step: Int64, _ lr: Double, _ alpha: Double, _ eps: Double,
                                    _ weightDecay: Double, _ momentum: Double, _ flags: Int32) -> Int32 {
    functional("descent_rmsprop_step", .rmsprop, dtype, count, param, grad,
               .init(squareAvg, gradAvg, momentumBuffer), step, flags) {
        $0.learningRate = lr; $0.alpha = alpha; $0.epsilon = eps; $0.weightDecay = weightDecay; $0.momentum = momentum
    }
}

private func adamLike(_ name: StaticString, _ rule: OptimizerRule, _ dtype: Int32, _ count: Int64,
                      _ param: UnsafeMutableRawPointer?, _ grad: UnsafeRawPointer?,
                      _ state: FunctionalStep.StateBuffers, _ step: Int64, _ lr: Double, _ beta1: Double,
                      _ beta2: Double, _ eps: Double, _ weightDecay: Double, _ flags: Int32) -> Int32 {
    functional(name, rule, dtype, count, param, grad, state, step, flags) {
        $0.learningRate = lr; $0.beta1 = beta1; $0.beta2 = beta2; $0.epsilon = eps; $0.weightDecay = weightDecay
    }
}

@c public func descent_adam_step(_ dtype: Int32, _ count: Int64, _ param: UnsafeMutableRawPointer?,
                                 _ grad: UnsafeRawPointer?, _ expAvg: UnsafeMutableRawPointer?,
                                 _ expAvgSq: UnsafeMutableRawPointer?, _ maxExpAvgSq: UnsafeMutableRawPointer?,
                                 _ step: Int64, _ lr: Double, _ beta1: Double, _ beta2: Double, _ eps: Double,
                                 _ weightDecay: Double, _ flags: Int32) -> Int32 {
    adamLike("descent_adam_step", .adam, dtype, count, param, grad, .init(expAvg, expAvgSq, maxExpAvgSq),
             step, lr, beta1, beta2, eps, weightDecay, flags)
}

@c public func descent_adamw_step(_ dtype: Int32, _ count: Int64, _ param: UnsafeMutableRawPointer?,
                                  _ grad: UnsafeRawPointer?, _ expAvg: UnsafeMutableRawPointer?,
                                  _ expAvgSq: UnsafeMutableRawPointer?, _ maxExpAvgSq: UnsafeMutableRawPointer?,
                                  _ step: Int64, _ lr: Double, _ beta1: Double, _ beta2: Double, _ eps: Double,
                                  _ weightDecay: Double, _ flags: Int32) -> Int32 {
    adamLike("descent_adamw_step", .adamw, dtype, count, param, grad, .init(expAvg, expAvgSq, maxExpAvgSq),
             step, lr, beta1, beta2, eps, weightDecay, flags)
}

@c public func descent_adamax_step(_ dtype: Int32, _ count: Int64, _ param: UnsafeMutableRawPointer?,
                                   _ grad: UnsafeRawPointer?, _ expAvg: UnsafeMutableRawPointer?,
                                   _ expInf: UnsafeMutableRawPointer?, _ step: Int64, _ lr: Double,
                                   _ beta1: Double, _ beta2: Double, _ eps: Double, _ weightDecay: Double,
                                   _ flags: Int32) -> Int32 {
    adamLike("descent_adamax_step", .adamax, dtype, count, param, grad, .init(expAvg, expInf),
             step, lr, beta1, beta2, eps, weightDecay, flags)
}

@c public func descent_nadam_step(_ dtype: Int32, _ count: Int64, _ param: UnsafeMutableRawPointer?,
                                  _ grad: UnsafeRawPointer?, _ expAvg: UnsafeMutableRawPointer?,
                                  _ expAvgSq: UnsafeMutableRawPointer?, _ muProduct: UnsafeMutablePointer<Double>?,
                                  _ step: Int64, _ lr: Double, _ beta1: Double, _ beta2: Double, _ eps: Double,
                                  _ weightDecay: Double, _ momentumDecay: Double, _ flags: Int32) -> Int32 {
    functional("descent_nadam_step", .nadam, dtype, count, param, grad, .init(expAvg, expAvgSq), step, flags,
               muProduct: muProduct) {
        $0.learningRate = lr; $0.beta1 = beta1; $0.beta2 = beta2; $0.epsilon = eps
        $0.weightDecay = weightDecay; $0.momentumDecay = momentumDecay
    }
}

@c public func descent_radam_step(_ dtype: Int32, _ count: Int64, _ param: UnsafeMutableRawPointer?,
                                  _ grad: UnsafeRawPointer?, _ expAvg: UnsafeMutableRawPointer?,
                                  _ expAvgSq: UnsafeMutableRawPointer?, _ step: Int64, _ lr: Double,
                                  _ beta1: Double, _ beta2: Double, _ eps: Double, _ weightDecay: Double,
                                  _ flags: Int32) -> Int32 {
    adamLike("descent_radam_step", .radam, dtype, count, param, grad, .init(expAvg, expAvgSq),
             step, lr, beta1, beta2, eps, weightDecay, flags)
}

@c public func descent_lion_step(_ dtype: Int32, _ count: Int64, _ param: UnsafeMutableRawPointer?,
                                 _ grad: UnsafeRawPointer?, _ expAvg: UnsafeMutableRawPointer?,
                                 _ step: Int64, _ lr: Double, _ beta1: Double, _ beta2: Double,
                                 _ weightDecay: Double, _ flags: Int32) -> Int32 {
    functional("descent_lion_step", .lion, dtype, count, param, grad, .init(expAvg), step, flags) {
        $0.learningRate = lr; $0.beta1 = beta1; $0.beta2 = beta2; $0.weightDecay = weightDecay
    }
}
