import Descent

// C exports for data-parallel training (flat gradient and parameter buffers, the two halves of a
// training step, optimizer shards). Shims only; the library never calls MPI.

@c public func descent_trainer_backward_batch(_ handle: UInt64, _ loaderHandle: UInt64, _ batch: Int64,
                                              _ part: Int64, _ parts: Int64, _ lossOut: UnsafeMutablePointer<Double>?,
                                              _ correctOut: UnsafeMutablePointer<Int64>?,
                                              _ samplesOut: UnsafeMutablePointer<Int64>?) -> Int32 {
    exported("descent_trainer_backward_batch") { () throws(DescentError) in
        let target = try handles.lookup(handle, as: Trainer.self, role: "trainer")
        let source = try handles.lookup(loaderHandle, as: DataLoader.self, role: "loader")
        guard batch >= 0, batch <= Int64(Int32.max) else { throw DescentError(.invalidArgument, "batch \(batch) is out of range") }
        guard parts >= 1, parts <= Int64(Int32.max) else { throw DescentError(.invalidArgument, "parts must be in 1...2^31-1, got \(parts)") }
        guard part >= 0, part < parts else { throw DescentError(.invalidArgument, "part \(part) is outside 0 ..< \(parts)") }
        let result = try target.gradients(source, batch: Int(batch), part: Int(part), parts: Int(parts))
        lossOut?.pointee = result.loss
        correctOut?.pointee = Int64(result.correct)
        samplesOut?.pointee = Int64(result.samples)
    }
}

@c public func descent_trainer_apply(_ handle: UInt64, _ skipped: UnsafeMutablePointer<Int32>?) -> Int32 {
    exported("descent_trainer_apply") { () throws(DescentError) in
        let target = try handles.lookup(handle, as: Trainer.self, role: "trainer")
        let wasSkipped = try target.applyUpdate()
        skipped?.pointee = wasSkipped ? 1 : 0
    }
}

@c public func descent_graph_param_buffer(_ handle: UInt64, _ data: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                                          _ count: UnsafeMutablePointer<Int64>?) -> Int32 {
    exported("descent_graph_param_buffer") { () throws(DescentError) in
        let dataDestination = try required(data, "data")
        let countDestination = try required(count, "count")
        let buffer = try graph(handle).flatParameters()
        dataDestination.pointee = buffer.storage
        countDestination.pointee = Int64(buffer.count)
    }
}

@c public func descent_optimizer_shard(_ handle: UInt64, _ start: Int64, _ count: Int64,
                                       _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    exported("descent_optimizer_shard") { () throws(DescentError) in
        let destination = try required(out, "out")
        let source = try handles.lookup(handle, as: Optimizer.self, role: "optimizer")
        guard start >= 0, count >= 0 else { throw DescentError(.invalidArgument, "start \(start) and count \(count) must be >= 0") }
        let shard = try source.shard(start: Int(start), count: Int(count))
        destination.pointee = try handles.insert(shard)
    }
}

@c public func descent_optimizer_grad_buffer(_ handle: UInt64, _ dtype: Int32,
                                             _ data: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                                             _ count: UnsafeMutablePointer<Int64>?) -> Int32 {
    exported("descent_optimizer_grad_buffer") { () throws(DescentError) in
        let kind = try DType(checking: dtype)
        let dataDestination = try required(data, "data")
        let countDestination = try required(count, "count")
        let buffer = try handles.lookup(handle, as: Optimizer.self, role: "optimizer").flatGradients(dtype: kind)
        dataDestination.pointee = buffer.storage
        countDestination.pointee = Int64(buffer.count)
    }
}

@c public func descent_optimizer_sizes(_ handle: UInt64, _ elements: UnsafeMutablePointer<Int64>?,
                                       _ stateBytes: UnsafeMutablePointer<Int64>?) -> Int32 {
    exported("descent_optimizer_sizes") { () throws(DescentError) in
        let source = try handles.lookup(handle, as: Optimizer.self, role: "optimizer")
        elements?.pointee = Int64(try source.flatElementCount)
        stateBytes?.pointee = Int64(try source.stateByteCount)
    }
}
