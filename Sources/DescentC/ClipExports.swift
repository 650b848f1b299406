import Descent

// C exports for gradient clipping over an array of tensor handles. Every handle is looked up
// and every argument checked before any gradient is modified.

/// Looks up `count` tensor handles (the array may be NULL when count is 0).
private func gradientList(_ grads: UnsafePointer<UInt64>?, _ count: Int64) throws(DescentError) -> [Tensor] {
    let length = try readCount(count, "count")
    if length == 0 { return [] }
    let list = try required(grads, "grads")
    // The list (grown by doubling) and the core's overlap check (3 words a tensor, then sorted).
    try probeAllocation(Tensor.self, count: length, copies: 8, "the gradient list")
    var tensors: [Tensor] = []
    tensors.reserveCapacity(min(length, 1 << 16))  // a count larger than the array is the caller's error; do not trap on it first
    for index in 0..<length { tensors.append(try tensor(list[index], "grads[\(index)]")) }
    return tensors
}

@c public func descent_clip_grad_norm(_ grads: UnsafePointer<UInt64>?, _ count: Int64, _ maxNorm: Double,
                                      _ preClipNorm: UnsafeMutablePointer<Double>?) -> Int32 {
    exported("descent_clip_grad_norm") { () throws(DescentError) in
        let tensors = try gradientList(grads, count)
        let total = try GradientClipping.clipByNorm(tensors, maxNorm: maxNorm)
        preClipNorm?.pointee = total
    }
}

@c public func descent_clip_grad_norm_ex(_ grads: UnsafePointer<UInt64>?, _ count: Int64, _ maxNorm: Double,
                                         _ normType: Double, _ errorIfNonfinite: Int32,
                                         _ preClipNorm: UnsafeMutablePointer<Double>?) -> Int32 {
    exported("descent_clip_grad_norm_ex") { () throws(DescentError) in
        let tensors = try gradientList(grads, count)
        let total = try GradientClipping.clipByNorm(tensors, maxNorm: maxNorm, normType: normType,
                                                    errorIfNonFinite: errorIfNonfinite != 0)
        preClipNorm?.pointee = total
    }
}

@c public func descent_clip_grad_value(_ grads: UnsafePointer<UInt64>?, _ count: Int64, _ clipValue: Double) -> Int32 {
    exported("descent_clip_grad_value") { () throws(DescentError) in
        try GradientClipping.clipByValue(gradientList(grads, count), clipValue: clipValue)
    }
}
