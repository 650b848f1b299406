import Descent

// C exports for elementwise, reduction and matrix kernels, and the vanilla gradient step.

private func binary(_ name: StaticString, _ operation: BinaryOperation,
                    _ a: UInt64, _ b: UInt64, _ out: UInt64) -> Int32 {
    exported(name) { () throws(DescentError) in
        try Tensor.elementwise(operation, tensor(a, "a"), tensor(b, "b"), into: tensor(out, "out"))
    }
}

@c public func descent_tensor_add(_ a: UInt64, _ b: UInt64, _ out: UInt64) -> Int32 {
    binary("descent_tensor_add", .add, a, b, out)
}

@c public func descent_tensor_sub(_ a: UInt64, _ b: UInt64, _ out: UInt64) -> Int32 {
    binary("descent_tensor_sub", .subtract, a, b, out)
}

@c public func descent_tensor_mul(_ a: UInt64, _ b: UInt64, _ out: UInt64) -> Int32 {
    binary("descent_tensor_mul", .multiply, a, b, out)
}

@c public func descent_tensor_scale(_ x: UInt64, _ alpha: Double) -> Int32 {
    exported("descent_tensor_scale") { () throws(DescentError) in
        try tensor(x, "x").scale(by: alpha)
    }
}

@c public func descent_tensor_axpy(_ alpha: Double, _ x: UInt64, _ y: UInt64) -> Int32 {
    exported("descent_tensor_axpy") { () throws(DescentError) in
        try tensor(y, "y").axpy(alpha, tensor(x, "x"))
    }
}

private func reduction(_ name: StaticString, _ handle: UInt64, _ out: UnsafeMutablePointer<Double>?,
                       _ body: (Tensor) throws(DescentError) -> Double) -> Int32 {
    exported(name) { () throws(DescentError) in
        let destination = try required(out, "out")
        destination.pointee = try body(tensor(handle, "tensor"))
    }
}

@c public func descent_tensor_sum(_ x: UInt64, _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    reduction("descent_tensor_sum", x, out) { $0.sum() }
}

@c public func descent_tensor_mean(_ x: UInt64, _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    reduction("descent_tensor_mean", x, out) { $0.mean() }
}

@c public func descent_tensor_norm_l2(_ x: UInt64, _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    reduction("descent_tensor_norm_l2", x, out) { $0.normL2() }
}

@c public func descent_tensor_max_abs(_ x: UInt64, _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    reduction("descent_tensor_max_abs", x, out) { $0.maxAbs() }
}

@c public func descent_tensor_dot(_ a: UInt64, _ b: UInt64, _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    reduction("descent_tensor_dot", a, out) { (first) throws(DescentError) in try first.dot(tensor(b, "b")) }
}

@c public func descent_tensor_matmul(_ a: UInt64, _ b: UInt64, _ transposeA: Int32, _ transposeB: Int32,
                                     _ alpha: Double, _ beta: Double, _ c: UInt64) -> Int32 {
    exported("descent_tensor_matmul") { () throws(DescentError) in
        try Tensor.matmul(tensor(a, "a"), tensor(b, "b"), transposeA: transposeA != 0,
                          transposeB: transposeB != 0, alpha: alpha, beta: beta, into: tensor(c, "c"))
    }
}

@c public func descent_gd_step(_ parameter: UInt64, _ gradient: UInt64, _ learningRate: Double) -> Int32 {
    exported("descent_gd_step") { () throws(DescentError) in
        try GradientDescent.step(tensor(parameter, "param"), gradient: tensor(gradient, "grad"),
                                 learningRate: learningRate)
    }
}
