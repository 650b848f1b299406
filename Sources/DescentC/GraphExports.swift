import Descent

// C exports of computation graphs (descent_graph handles). Shims only.

@inline(__always)
func graph(_ handle: UInt64) throws(DescentError) -> Graph {
    try handles.lookup(handle, as: Graph.self, role: "graph")
}

/// Reads a node index that arrived from C.
@inline(__always)
func node(_ value: Int64, _ role: String) throws(DescentError) -> Int {
    guard value >= 0, value <= Int64(Int32.max) else { throw DescentError(.invalidArgument, "\(role) \(value) is not a node index") }
    return Int(value)
}

/// Runs `build` and writes the new node's index to `out` (checked before anything is built).
@inline(__always)
private func building(_ function: StaticString, _ out: UnsafeMutablePointer<Int64>?,
                      _ build: () throws(DescentError) -> Int) -> Int32 {
    exported(function) { () throws(DescentError) in
        let destination = try required(out, "node")
        destination.pointee = Int64(try build())
    }
}

private func flag(_ value: Int32, _ name: String) throws(DescentError) -> Bool {
    guard value == 0 || value == 1 else { throw DescentError(.invalidArgument, "\(name) must be 0 or 1, got \(value)") }
    return value == 1
}

@c public func descent_graph_new(_ dtype: Int32, _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    exported("descent_graph_new") { () throws(DescentError) in
        let destination = try required(out, "out")
        destination.pointee = try handles.insert(Graph(dtype: DType(checking: dtype)))
    }
}

@c public func descent_graph_free(_ handle: UInt64) -> Int32 {
    exported("descent_graph_free") { () throws(DescentError) in
        try handles.remove(handle, as: Graph.self, role: "graph")
    }
}

@c public func descent_graph_input(_ handle: UInt64, _ rank: Int64, _ shape: UnsafePointer<Int64>?,
                                   _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    building("descent_graph_input", out) { () throws(DescentError) -> Int in
        let target = try graph(handle)
        guard rank >= 0, rank <= Int64(Shape.maxRank) else { throw DescentError(.shape, "rank \(rank) is outside 0...\(Shape.maxRank)") }
        var extents: [Int] = []
        if rank > 0 {
            let dims = try required(shape, "shape")
            for axis in 0..<Int(rank) {
                guard dims[axis] >= -1, dims[axis] <= Int64(Int32.max) else {
                    throw DescentError(.shape, "extent \(dims[axis]) on axis \(axis): use -1 for the batch axis, otherwise 0...2^31-1")
                }
                extents.append(Int(dims[axis]))
            }
        }
        return try target.addInput(shape: extents)
    }
}

@c public func descent_graph_labels(_ handle: UInt64, _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    building("descent_graph_labels", out) { () throws(DescentError) -> Int in try graph(handle).addLabels() }
}

@c public func descent_graph_param(_ handle: UInt64, _ value: UInt64, _ trainable: Int32,
                                   _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    building("descent_graph_param", out) { () throws(DescentError) -> Int in
        try graph(handle).addParameter(tensor(value, "tensor"), trainable: flag(trainable, "trainable"))
    }
}

@c public func descent_graph_param_init(_ handle: UInt64, _ index: Int64, _ kind: Int32, _ gain: Double) -> Int32 {
    exported("descent_graph_param_init") { () throws(DescentError) in
        let initializer: ParameterInit?
        switch kind {
        case 0: initializer = nil
        case 100: initializer = .zeros
        case 101: initializer = .ones
        default: initializer = .scheme(try WeightInit(checking: kind), gain: gain)
        }
        try graph(handle).setInitializer(node(index, "node"), initializer)
    }
}

@c public func descent_graph_constant(_ handle: UInt64, _ value: UInt64, _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    building("descent_graph_constant", out) { () throws(DescentError) -> Int in
        try graph(handle).addConstant(tensor(value, "tensor").copy())
    }
}

@c public func descent_graph_scalar(_ handle: UInt64, _ value: Double, _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    building("descent_graph_scalar", out) { () throws(DescentError) -> Int in try graph(handle).addScalar(value) }
}

@c public func descent_graph_binary(_ handle: UInt64, _ op: Int32, _ a: Int64, _ b: Int64,
                                    _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    building("descent_graph_binary", out) { () throws(DescentError) -> Int in
        try graph(handle).addBinary(GraphBinary(checking: op), node(a, "a"), node(b, "b"))
    }
}

@c public func descent_graph_unary(_ handle: UInt64, _ op: Int32, _ x: Int64, _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    building("descent_graph_unary", out) { () throws(DescentError) -> Int in
        try graph(handle).addUnary(GraphUnary(checking: op), node(x, "x"))
    }
}

@c public func descent_graph_matmul(_ handle: UInt64, _ a: Int64, _ b: Int64, _ transposeA: Int32, _ transposeB: Int32,
                                    _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    building("descent_graph_matmul", out) { () throws(DescentError) -> Int in
        try graph(handle).addMatmul(node(a, "a"), node(b, "b"), transposeA: flag(transposeA, "trans_a"),
                                    transposeB: flag(transposeB, "trans_b"))
    }
}

@c public func descent_graph_reduce(_ handle: UInt64, _ op: Int32, _ x: Int64, _ axis: Int64,
                                    _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    building("descent_graph_reduce", out) { () throws(DescentError) -> Int in
        guard axis >= -Int64(Shape.maxRank), axis < Int64(Shape.maxRank) else {
            throw DescentError(.invalidArgument, "axis \(axis) is out of range")
        }
        return try graph(handle).addReduce(GraphReduce(checking: op), node(x, "x"), axis: Int(axis))
    }
}

@c public func descent_graph_activation(_ handle: UInt64, _ kind: Int32, _ negativeSlope: Double, _ x: Int64,
                                        _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    building("descent_graph_activation", out) { () throws(DescentError) -> Int in
        try graph(handle).addActivation(Activation(checking: kind), node(x, "x"), negativeSlope: negativeSlope)
    }
}

@c public func descent_graph_cost(_ handle: UInt64, _ cost: Int32, _ prediction: Int64, _ target: Int64,
                                  _ reduction: Int32, _ parameter: Double, _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    building("descent_graph_cost", out) { () throws(DescentError) -> Int in
        try graph(handle).addCost(GraphCost(checking: cost), prediction: node(prediction, "prediction"),
                                  target: node(target, "target"), reduction: Reduction(checking: reduction),
                                  parameter: parameter)
    }
}

@c public func descent_graph_l2_penalty(_ handle: UInt64, _ w: Int64, _ lambda: Double, _ m: Int64,
                                        _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    building("descent_graph_l2_penalty", out) { () throws(DescentError) -> Int in
        guard m >= 1, m <= Int64(Int32.max) else { throw DescentError(.invalidArgument, "m must be in 1...2^31-1, got \(m)") }
        return try graph(handle).addL2Penalty(node(w, "w"), lambda: lambda, m: Int(m))
    }
}

@c public func descent_graph_dense(_ handle: UInt64, _ x: Int64, _ w: Int64, _ b: Int64, _ activation: Int32,
                                   _ negativeSlope: Double, _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    building("descent_graph_dense", out) { () throws(DescentError) -> Int in
        try graph(handle).addDense(node(x, "x"), weights: node(w, "w"), bias: b == -1 ? nil : node(b, "b"),
                                   activation: Activation(checking: activation), negativeSlope: negativeSlope)
    }
}

@c public func descent_graph_batchnorm(_ handle: UInt64, _ x: Int64, _ gamma: Int64, _ beta: Int64, _ momentum: Double,
                                       _ epsilon: Double, _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    building("descent_graph_batchnorm", out) { () throws(DescentError) -> Int in
        try graph(handle).addBatchNorm(node(x, "x"), gamma: node(gamma, "gamma"), beta: node(beta, "beta"),
                                       momentum: momentum, epsilon: epsilon)
    }
}

@c public func descent_graph_dropout(_ handle: UInt64, _ x: Int64, _ probability: Double, _ seed: UInt64,
                                     _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    building("descent_graph_dropout", out) { () throws(DescentError) -> Int in
        try graph(handle).addDropout(node(x, "x"), probability: probability, seed: seed)
    }
}

@c public func descent_graph_node_count(_ handle: UInt64, _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    exported("descent_graph_node_count") { () throws(DescentError) in
        let destination = try required(out, "out")
        destination.pointee = Int64(try graph(handle).nodeCount)
    }
}

@c public func descent_graph_truncate(_ handle: UInt64, _ count: Int64) -> Int32 {
    exported("descent_graph_truncate") { () throws(DescentError) in
        guard count >= 0, count <= Int64(Int32.max) else { throw DescentError(.invalidArgument, "count \(count) is out of range") }
        try graph(handle).truncate(to: Int(count))
    }
}

@c public func descent_graph_shape(_ handle: UInt64, _ index: Int64, _ rankOut: UnsafeMutablePointer<Int64>?,
                                   _ shapeOut: UnsafeMutablePointer<Int64>?, _ capacity: Int64) -> Int32 {
    exported("descent_graph_shape") { () throws(DescentError) in
        let rankDestination = try required(rankOut, "rank")
        let shape = try graph(handle).shape(of: node(index, "node"))
        let room = try readCount(capacity, "capacity")
        guard room >= shape.count else {
            throw DescentError(.bufferTooSmall, "the node has rank \(shape.count), capacity is \(room)")
        }
        if !shape.isEmpty {
            let destination = try required(shapeOut, "shape")
            for (axis, extent) in shape.enumerated() { destination[axis] = Int64(extent) }
        }
        rankDestination.pointee = Int64(shape.count)
    }
}

@c public func descent_graph_param_count(_ handle: UInt64, _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    exported("descent_graph_param_count") { () throws(DescentError) in
        let destination = try required(out, "out")
        destination.pointee = Int64(try graph(handle).parameters.count)
    }
}

@c public func descent_graph_param_node(_ handle: UInt64, _ position: Int64, _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    exported("descent_graph_param_node") { () throws(DescentError) in
        let destination = try required(out, "out")
        let parameters = try graph(handle).parameters
        guard position >= 0, position < Int64(parameters.count) else {
            throw DescentError(.invalidArgument, "param \(position) does not exist (the graph has \(parameters.count))")
        }
        destination.pointee = Int64(parameters[Int(position)])
    }
}

@c public func descent_graph_set_input(_ handle: UInt64, _ index: Int64, _ value: UInt64) -> Int32 {
    exported("descent_graph_set_input") { () throws(DescentError) in
        try graph(handle).bindInput(node(index, "node"), tensor(value, "tensor"))
    }
}

@c public func descent_graph_set_labels(_ handle: UInt64, _ index: Int64, _ labels: UnsafePointer<Int64>?,
                                        _ count: Int64) -> Int32 {
    exported("descent_graph_set_labels") { () throws(DescentError) in
        let length = try readCount(count, "count")
        let target = try graph(handle)
        if length == 0 {
            var none: Int64 = 0
            try target.bindLabels(node(index, "node"), &none, count: 0)
        } else {
            try target.bindLabels(node(index, "node"), required(labels, "labels"), count: length)
        }
    }
}

@c public func descent_graph_set_training(_ handle: UInt64, _ training: Int32) -> Int32 {
    exported("descent_graph_set_training") { () throws(DescentError) in
        let mode = try flag(training, "training")
        try graph(handle).setTraining(mode)
    }
}

/// Copies a node's value into the caller's buffer (out may be NULL with capacity 0 to learn the
/// count) and writes the element count.
private func copyOut(_ value: Tensor, _ dtype: Int32, _ out: UnsafeMutableRawPointer?, _ capacity: Int64,
                     _ countOut: UnsafeMutablePointer<Int64>?) throws(DescentError) {
    let requested = try DType(checking: dtype)
    let room = try readCount(capacity, "capacity")
    if room > 0 || out != nil {
        try value.copy(to: required(out, "out"), capacity: room, dtype: requested)
    }
    countOut?.pointee = Int64(value.count)
}

@c public func descent_graph_forward(_ handle: UInt64, _ index: Int64, _ dtype: Int32, _ out: UnsafeMutableRawPointer?,
                                     _ capacity: Int64, _ countOut: UnsafeMutablePointer<Int64>?) -> Int32 {
    exported("descent_graph_forward") { () throws(DescentError) in
        let value = try graph(handle).forward(node(index, "node"))
        try copyOut(value, dtype, out, capacity, countOut)
    }
}

@c public func descent_graph_value(_ handle: UInt64, _ index: Int64, _ dtype: Int32, _ out: UnsafeMutableRawPointer?,
                                   _ capacity: Int64, _ countOut: UnsafeMutablePointer<Int64>?) -> Int32 {
    exported("descent_graph_value") { () throws(DescentError) in
        let value = try graph(handle).lastValue(node(index, "node"))
        try copyOut(value, dtype, out, capacity, countOut)
    }
}

@c public func descent_graph_backward(_ handle: UInt64, _ loss: Int64, _ lossOut: UnsafeMutablePointer<Double>?) -> Int32 {
    exported("descent_graph_backward") { () throws(DescentError) in
        let value = try graph(handle).backward(node(loss, "loss"))
        lossOut?.pointee = value
    }
}

@c public func descent_graph_grad(_ handle: UInt64, _ index: Int64, _ dtype: Int32, _ out: UnsafeMutableRawPointer?,
                                  _ capacity: Int64) -> Int32 {
    exported("descent_graph_grad") { () throws(DescentError) in
        let requested = try DType(checking: dtype)
        let room = try readCount(capacity, "capacity")
        let gradient = try graph(handle).gradient(of: node(index, "node"))
        try gradient.copy(to: required(out, "out"), capacity: room, dtype: requested)
    }
}

@c public func descent_graph_grad_buffer(_ handle: UInt64, _ data: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                                         _ count: UnsafeMutablePointer<Int64>?) -> Int32 {
    exported("descent_graph_grad_buffer") { () throws(DescentError) in
        let dataDestination = try required(data, "data")
        let countDestination = try required(count, "count")
        let buffer = try graph(handle).flatGradients()
        dataDestination.pointee = buffer.storage
        countDestination.pointee = Int64(buffer.count)
    }
}

@c public func descent_graph_init_params(_ handle: UInt64, _ seed: UInt64) -> Int32 {
    exported("descent_graph_init_params") { () throws(DescentError) in
        try graph(handle).initializeParameters(seed: seed)
    }
}

@c public func descent_graph_running_stats(_ handle: UInt64, _ index: Int64, _ dtype: Int32,
                                           _ mean: UnsafeMutableRawPointer?, _ variance: UnsafeMutableRawPointer?,
                                           _ capacity: Int64, _ write: Int32) -> Int32 {
    exported("descent_graph_running_stats") { () throws(DescentError) in
        let requested = try DType(checking: dtype)
        let room = try readCount(capacity, "capacity")
        let (runningMean, runningVariance) = try graph(handle).runningStatistics(node(index, "node"))
        let meanBuffer = try required(mean, "mean"), varianceBuffer = try required(variance, "variance")
        if try flag(write, "write") {
            guard requested == runningMean.dtype else { throw DescentError(.dtype, "the graph is \(runningMean.dtype), buffers are \(requested)") }
            guard room == runningMean.count else { throw DescentError(.shape, "the node has \(runningMean.count) features, count is \(room)") }
            for j in 0..<room {
                let v = requested == .float32 ? Double(varianceBuffer.load(fromByteOffset: j * 4, as: Float.self))
                                              : varianceBuffer.load(fromByteOffset: j * 8, as: Double.self)
                guard v >= 0 else { throw DescentError(.invalidArgument, "running variance must be >= 0; feature \(j) holds \(v)") }
            }
            try runningMean.assign(from: meanBuffer, count: room, dtype: requested)
            try runningVariance.assign(from: varianceBuffer, count: room, dtype: requested)
        } else {
            try runningMean.copy(to: meanBuffer, capacity: room, dtype: requested)
            try runningVariance.copy(to: varianceBuffer, capacity: room, dtype: requested)
        }
    }
}
