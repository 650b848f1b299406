import Descent

// C exports for numerical gradients, gradient checks and the step-size sweep. The user's scalar
// function arrives as a C function pointer plus an opaque context.

/// `descent_scalar_fn` in include/descent.h.
public typealias CScalarFunction = @convention(c) (UnsafeMutableRawPointer?, UInt64, UnsafeMutablePointer<Double>?) -> Int32

/// Wraps the C callback: it is called with the caller's own handle for the tensor being
/// perturbed; a non-zero status becomes DESCENT_ERR_CALLBACK.
private func scalarFunction(_ function: CScalarFunction, _ context: UnsafeMutableRawPointer?,
                            handle: UInt64) -> ScalarFunction {
    return { (_: Tensor) throws(DescentError) -> Double in
        var value = Double.nan
        let status = function(context, handle, &value)
        guard status == 0 else {
            let name = ErrorCode(rawValue: status).map { String(describing: $0.name) } ?? "status \(status)"
            throw DescentError(.callback, "the function callback failed with \(name)")
        }
        return value
    }
}

@c public func descent_numerical_gradient(_ function: CScalarFunction?, _ context: UnsafeMutableRawPointer?,
                                          _ x: UInt64, _ h: Double, _ method: Int32, _ gradient: UInt64) -> Int32 {
    exported("descent_numerical_gradient") { () throws(DescentError) in
        let callback = try required(function, "f")
        let point = try tensor(x, "x")
        let output = try tensor(gradient, "grad")
        try NumericalGradient.compute(scalarFunction(callback, context, handle: x), at: point, step: h,
                                      method: FiniteDifference(checking: method), into: output)
    }
}

@c public func descent_gradient_check(_ function: CScalarFunction?, _ context: UnsafeMutableRawPointer?, _ x: UInt64,
                                      _ analytic: UInt64, _ h: Double, _ method: Int32, _ floor: Double,
                                      _ sampleCount: Int64, _ seed: UInt64, _ maxError: UnsafeMutablePointer<Double>?,
                                      _ worstIndex: UnsafeMutablePointer<Int64>?,
                                      _ analyticAtWorst: UnsafeMutablePointer<Double>?,
                                      _ numericalAtWorst: UnsafeMutablePointer<Double>?) -> Int32 {
    exported("descent_gradient_check") { () throws(DescentError) in
        let callback = try required(function, "f")
        let errorDestination = try required(maxError, "max_error")
        let indexDestination = try required(worstIndex, "worst_index")
        let samples = try readCount(sampleCount, "sample_count")
        let result = try GradientCheck.check(scalarFunction(callback, context, handle: x), at: tensor(x, "x"),
                                             analytic: tensor(analytic, "analytic"), step: h,
                                             method: FiniteDifference(checking: method), floor: floor,
                                             sampleCount: samples, seed: seed)
        errorDestination.pointee = result.maxError
        indexDestination.pointee = Int64(result.worstIndex)
        analyticAtWorst?.pointee = result.analytic
        numericalAtWorst?.pointee = result.numerical
    }
}

@c public func descent_gradient_compare(_ analytic: UInt64, _ numerical: UInt64, _ floor: Double,
                                        _ maxError: UnsafeMutablePointer<Double>?,
                                        _ worstIndex: UnsafeMutablePointer<Int64>?) -> Int32 {
    exported("descent_gradient_compare") { () throws(DescentError) in
        let errorDestination = try required(maxError, "max_error")
        let indexDestination = try required(worstIndex, "worst_index")
        let result = try GradientCheck.compare(analytic: tensor(analytic, "analytic"),
                                               numerical: tensor(numerical, "numerical"), floor: floor)
        errorDestination.pointee = result.maxError
        indexDestination.pointee = Int64(result.worstIndex)
    }
}

/// Upper bound on a sweep's step sizes (the count is copied into an array first).
let maxStepSizes = 1 << 24

@c public func descent_step_size_sweep(_ function: CScalarFunction?, _ context: UnsafeMutableRawPointer?, _ weights: UInt64,
                                       _ gradient: UInt64, _ stepSizes: UnsafePointer<Double>?, _ count: Int64,
                                       _ losses: UnsafeMutablePointer<Double>?) -> Int32 {
    exported("descent_step_size_sweep") { () throws(DescentError) in
        let callback = try required(function, "f")
        let length = try readCount(count, "count")
        guard length <= maxStepSizes else {
            throw DescentError(.invalidArgument, "count \(length) exceeds the limit of \(maxStepSizes) step sizes")
        }
        var steps: [Double] = []
        var destination: UnsafeMutablePointer<Double>? = nil
        if length > 0 {
            let source = try required(stepSizes, "step_sizes")
            destination = try required(losses, "losses")
            steps = (0..<length).map { source[$0] }
        }
        let values = try StepSizeSweep.run(scalarFunction(callback, context, handle: weights), at: tensor(weights, "W"),
                                           gradient: tensor(gradient, "grad"), stepSizes: steps)
        if let destination { for (i, value) in values.enumerated() { destination[i] = value } }
    }
}
