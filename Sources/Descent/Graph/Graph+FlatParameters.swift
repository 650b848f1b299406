/// The graph's parameters as one flat region, for data-parallel training (an allgather of the
/// parameters after a sharded update, a broadcast of rank 0's initial values).
extension Graph {
    /// A tensor over every parameter's elements in parameter order, when the parameters lie
    /// back to back in one region of memory (for example views of one array, as `MLP` allocates
    /// them), without copying: writing it writes the parameters. It borrows the parameters'
    /// memory: valid while they live. Throws `.invalidArgument` when the graph has no parameters
    /// or they are not one contiguous region in parameter order.
    /// C counterpart: `descent_graph_param_buffer`.
    public func flatParameters() throws(DescentError) -> Tensor {
        try locked { () throws(DescentError) -> Tensor in
            var start: UnsafeMutableRawPointer? = nil, next: UnsafeMutableRawPointer? = nil, total = 0
            for (position, index) in parameterNodes.enumerated() {
                let tensor = nodes[index].tensor!
                guard tensor.count > 0 else { continue }  // an empty param occupies no memory
                if let expected = next, tensor.storage != expected {
                    throw .argument("params are not one contiguous region: param \(position) (node \(index)) does not start where the params before it end; allocate them as views of one array (as MLP does) or copy them yourself")
                }
                if start == nil { start = tensor.storage }
                next = tensor.storage + tensor.byteCount
                total += tensor.count
            }
            guard let start else { throw .argument("the graph has no param elements") }
            return try Tensor(wrapping: start, dtype: dtype, shape: [total], capacity: total)
        }
    }
}
