import Descent

// C exports for tensor creation, queries and copies. Each function validates every argument,
// writes its out-pointer only on success, and leaves all objects unchanged on failure.

/// Registers a freshly made tensor and writes its handle.
private func publish(_ make: () throws(DescentError) -> Tensor,
                     _ out: UnsafeMutablePointer<UInt64>?) throws(DescentError) {
    let destination = try required(out, "out")
    let made = try make()
    destination.pointee = try handles.insert(made)
}

/// The common shape of the shaped constructors: check dtype and shape, make, publish.
private func construct(_ name: StaticString, _ dtype: Int32, _ rank: Int64, _ shape: UnsafePointer<Int64>?,
                       _ out: UnsafeMutablePointer<UInt64>?,
                       _ make: (DType, [Int]) throws(DescentError) -> Tensor) -> Int32 {
    exported(name) { () throws(DescentError) in
        let type = try DType(checking: dtype)
        let dims = try readShape(rank: rank, shape: shape)
        try publish({ () throws(DescentError) in try make(type, dims) }, out)
    }
}

@c public func descent_tensor_zeros(_ dtype: Int32, _ rank: Int64, _ shape: UnsafePointer<Int64>?,
                                    _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    construct("descent_tensor_zeros", dtype, rank, shape, out) { (type, dims) throws(DescentError) in
        try Tensor.zeros(dtype: type, shape: dims)
    }
}

@c public func descent_tensor_ones(_ dtype: Int32, _ rank: Int64, _ shape: UnsafePointer<Int64>?,
                                   _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    construct("descent_tensor_ones", dtype, rank, shape, out) { (type, dims) throws(DescentError) in
        try Tensor.ones(dtype: type, shape: dims)
    }
}

@c public func descent_tensor_full(_ dtype: Int32, _ rank: Int64, _ shape: UnsafePointer<Int64>?,
                                   _ value: Double, _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    construct("descent_tensor_full", dtype, rank, shape, out) { (type, dims) throws(DescentError) in
        try Tensor.full(value, dtype: type, shape: dims)
    }
}

@c public func descent_tensor_arange(_ dtype: Int32, _ start: Double, _ stop: Double, _ step: Double,
                                     _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    exported("descent_tensor_arange") { () throws(DescentError) in
        let type = try DType(checking: dtype)
        try publish({ () throws(DescentError) in
            try Tensor.arange(start: start, stop: stop, step: step, dtype: type) }, out)
    }
}

@c public func descent_tensor_linspace(_ dtype: Int32, _ start: Double, _ stop: Double, _ count: Int64,
                                       _ endpoint: Int32, _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    exported("descent_tensor_linspace") { () throws(DescentError) in
        let type = try DType(checking: dtype)
        guard count >= 0, count <= Int64(Int32.max) * 64 else {
            throw DescentError(.shape, "linspace count \(count) is out of range")
        }
        try publish({ () throws(DescentError) in
            try Tensor.linspace(start: start, stop: stop, count: Int(count), endpoint: endpoint != 0, dtype: type)
        }, out)
    }
}

@c public func descent_tensor_from_buffer(_ dtype: Int32, _ rank: Int64, _ shape: UnsafePointer<Int64>?,
                                          _ data: UnsafeRawPointer?, _ count: Int64,
                                          _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    construct("descent_tensor_from_buffer", dtype, rank, shape, out) { (type, dims) throws(DescentError) in
        let source = try required(data, "data")
        let capacity = try readCount(count, "count")
        return try Tensor.copying(source, capacity: capacity, dtype: type, shape: dims)
    }
}

@c public func descent_tensor_wrap(_ dtype: Int32, _ rank: Int64, _ shape: UnsafePointer<Int64>?,
                                   _ data: UnsafeMutableRawPointer?, _ count: Int64,
                                   _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    construct("descent_tensor_wrap", dtype, rank, shape, out) { (type, dims) throws(DescentError) in
        let memory = try required(data, "data")
        let capacity = try readCount(count, "count")
        return try Tensor(wrapping: memory, dtype: type, shape: dims, capacity: capacity)
    }
}

@c public func descent_tensor_random_uniform(_ dtype: Int32, _ rank: Int64, _ shape: UnsafePointer<Int64>?,
                                             _ seed: UInt64, _ low: Double, _ high: Double,
                                             _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    construct("descent_tensor_random_uniform", dtype, rank, shape, out) { (type, dims) throws(DescentError) in
        try Tensor.randomUniform(seed: seed, low: low, high: high, dtype: type, shape: dims)
    }
}

@c public func descent_tensor_random_normal(_ dtype: Int32, _ rank: Int64, _ shape: UnsafePointer<Int64>?,
                                            _ seed: UInt64, _ mean: Double, _ std: Double,
                                            _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    construct("descent_tensor_random_normal", dtype, rank, shape, out) { (type, dims) throws(DescentError) in
        try Tensor.randomNormal(seed: seed, mean: mean, std: std, dtype: type, shape: dims)
    }
}

@c public func descent_tensor_clone(_ source: UInt64, _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    exported("descent_tensor_clone") { () throws(DescentError) in
        let original = try tensor(source, "tensor")
        try publish({ () throws(DescentError) in try original.copy() }, out)
    }
}

@c public func descent_tensor_free(_ handle: UInt64) -> Int32 {
    exported("descent_tensor_free") { () throws(DescentError) in
        try handles.remove(handle, as: Tensor.self, role: "tensor")
    }
}

@c public func descent_tensor_dtype(_ handle: UInt64, _ out: UnsafeMutablePointer<Int32>?) -> Int32 {
    exported("descent_tensor_dtype") { () throws(DescentError) in
        let destination = try required(out, "out")
        destination.pointee = try tensor(handle, "tensor").dtype.rawValue
    }
}

@c public func descent_tensor_rank(_ handle: UInt64, _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    exported("descent_tensor_rank") { () throws(DescentError) in
        let destination = try required(out, "out")
        destination.pointee = Int64(try tensor(handle, "tensor").rank)
    }
}

@c public func descent_tensor_count(_ handle: UInt64, _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    exported("descent_tensor_count") { () throws(DescentError) in
        let destination = try required(out, "out")
        destination.pointee = Int64(try tensor(handle, "tensor").count)
    }
}

@c public func descent_tensor_shape(_ handle: UInt64, _ out: UnsafeMutablePointer<Int64>?,
                                    _ capacity: Int64) -> Int32 {
    exported("descent_tensor_shape") { () throws(DescentError) in
        let shape = try tensor(handle, "tensor").shape
        let room = try readCount(capacity, "capacity")
        guard room >= shape.count else {
            throw DescentError(.bufferTooSmall, "capacity \(room) is less than the rank \(shape.count)")
        }
        if shape.isEmpty { return }
        let destination = try required(out, "out")
        for (axis, extent) in shape.enumerated() { destination[axis] = Int64(extent) }
    }
}

@c public func descent_tensor_copy_to(_ handle: UInt64, _ dtype: Int32, _ out: UnsafeMutableRawPointer?,
                                      _ capacity: Int64) -> Int32 {
    exported("descent_tensor_copy_to") { () throws(DescentError) in
        let source = try tensor(handle, "tensor")
        let type = try DType(checking: dtype)
        let room = try readCount(capacity, "capacity")
        let destination = try required(out, "out")
        try source.copy(to: destination, capacity: room, dtype: type)
    }
}

@c public func descent_tensor_copy_from(_ handle: UInt64, _ dtype: Int32, _ data: UnsafeRawPointer?,
                                        _ count: Int64) -> Int32 {
    exported("descent_tensor_copy_from") { () throws(DescentError) in
        let destination = try tensor(handle, "tensor")
        let type = try DType(checking: dtype)
        let length = try readCount(count, "count")
        let source = try required(data, "data")
        try destination.assign(from: source, count: length, dtype: type)
    }
}
