/// Sharded optimizer state (ZeRO stage 1) and flat gradient buffers, for data-parallel training.
///
/// The flattened parameters of an optimizer are its parameters' elements concatenated in
/// parameter order (element k of parameter i is flat element `offsets[i] + k`). Of N ranks each
/// steps one contiguous range of them with a *shard*: an optimizer over views of exactly those
/// elements, holding state for them alone (about 1/N of the whole).
extension Optimizer {
    /// A new optimizer over flat elements `start ..< start + count` of this one's parameters: for
    /// every parameter that reaches into the range, a 1-d view of the elements inside it (the
    /// shard updates this optimizer's parameter memory in place). The shard has the same rule,
    /// the same groups (a group may have no members), hyper-parameters, step count, NAdam
    /// products and non-finite policy, and a copy of the state of those elements only. Gradients
    /// are bound to one flat buffer per dtype (`flatGradients(dtype:)`), zero at first. The
    /// parameter memory must outlive the shard. C counterpart: `descent_optimizer_shard`.
    public func shard(start: Int, count: Int) throws(DescentError) -> Optimizer {
        let shard = Optimizer(rule: rule)
        try lock.withLock { _ throws(DescentError) in
            let total = offsets.last ?? 0
            guard start >= 0, count >= 0, start <= total, count <= total - start else {
                throw .argument("range start \(start), count \(count) is outside the \(total) flattened param elements")
            }
            let end = start + count
            shard.defaults = defaults
            shard.nonFinitePolicy = nonFinitePolicy
            shard.stepCount = stepCount
            // Compact state: the shard keeps the format; its slots hold the range's values, rounded
            // again to the format (8-bit blocks restart at the shard's param boundaries).
            shard.stateFormat = stateFormat
            shard.stateRounding = stateRounding
            shard.stateSeed = stateSeed
            for (groupIndex, group) in groups.enumerated() {
                let first = shard.parameters.count
                for index in group.members {
                    let parameter = parameters[index]
                    let lower = max(offsets[index], start), upper = min(offsets[index + 1], end)
                    guard lower < upper else { continue }
                    let offset = lower - offsets[index]
                    let view = try Tensor(view: parameter.tensor, offset: offset, shape: [upper - lower])
                    let piece = Parameter(tensor: view, group: groupIndex, slots: rule.stateSlotCount)
                    for (slot, state) in parameter.state.enumerated() {
                        guard let state else { continue }
                        piece.state[slot] = try Tensor(view: state, offset: offset, shape: [upper - lower]).copy()
                    }
                    for (slot, buffer) in parameter.compact.enumerated() {
                        guard let buffer else { continue }
                        let values = try Tensor.zeros(dtype: .float32, shape: [buffer.count])
                        let floats = values.storage.assumingMemoryBound(to: Float.self)
                        buffer.decode(into: floats)
                        piece.compact[slot] = try CompactBuffer.encoding(floats + offset, count: upper - lower,
                                                                         format: buffer.format, signed: buffer.isSigned)
                    }
                    shard.parameters.append(piece)
                    shard.offsets.append((shard.offsets.last ?? 0) + piece.tensor.count)
                }
                var copied = group
                copied.members = first..<shard.parameters.count
                shard.groups.append(copied)
            }
        }
        _ = try shard.bindFlatGradients()
        return shard
    }

    /// The bound gradients of `dtype`'s parameters as one flat buffer, in parameter order (0
    /// elements when no parameter has that dtype). When the bound gradients are not already views
    /// of one such buffer per dtype, buffers are allocated (zeros) and bound in their place, so
    /// that filling the buffer (e.g. one allreduce or reduce-scatter into it) fills every
    /// gradient. Valid until gradients are bound again or a group is added.
    /// C counterpart: `descent_optimizer_grad_buffer`.
    public func flatGradients(dtype: DType) throws(DescentError) -> Tensor {
        if let found = try lock.withLock({ _ throws(DescentError) -> Tensor? in try flatBuffer(dtype) }) {
            return found
        }
        return try bindFlatGradients()[dtype.flatIndex]
    }

    /// The flat buffer of `dtype` when the bound gradients of that dtype are views of one buffer,
    /// back to back in parameter order; nil otherwise. Called with the lock held.
    private func flatBuffer(_ dtype: DType) throws(DescentError) -> Tensor? {
        guard gradients.count == parameters.count else { return nil }
        var owner: Tensor? = nil, next = 0
        for (index, parameter) in parameters.enumerated() where parameter.tensor.dtype == dtype {
            let gradient = gradients[index]
            guard let base = gradient.owner, owner == nil || base === owner,
                  gradient.storage == base.storage + next * dtype.size else { return nil }
            owner = base
            next += gradient.count
        }
        if let owner { return owner.count == next ? owner : nil }
        return next == 0 ? try Tensor.zeros(dtype: dtype, shape: [0]) : nil
    }

    /// Allocates one zeroed gradient buffer per dtype and binds views of them; returns the
    /// buffers indexed by `DType.flatIndex`.
    func bindFlatGradients() throws(DescentError) -> [Tensor] {
        let (tensors, counts) = try lock.withLock { _ throws(DescentError) -> ([Tensor], [Int]) in
            var counts = [0, 0]
            for parameter in parameters { counts[parameter.tensor.dtype.flatIndex] += parameter.tensor.count }
            return (parameters.map { $0.tensor }, counts)
        }
        let buffers = [try Tensor.zeros(dtype: .float32, shape: [counts[0]]),
                       try Tensor.zeros(dtype: .float64, shape: [counts[1]])]
        var next = [0, 0]
        var views: [Tensor] = []
        for tensor in tensors {
            let slot = tensor.dtype.flatIndex
            views.append(try Tensor(view: buffers[slot], offset: next[slot], shape: tensor.shape))
            next[slot] += tensor.count
        }
        try bindGradients(views)
        return buffers
    }

    /// Bytes of state this optimizer holds (what sharding divides by N): full state tensors, and
    /// compact state's bfloat16 values or 8-bit codes with their block scales.
    public var stateByteCount: Int {
        get throws(DescentError) {
            try lock.withLock { _ in
                parameters.reduce(0) { total, parameter in
                    total + parameter.state.reduce(0) { $0 + ($1?.byteCount ?? 0) }
                        + parameter.compact.reduce(0) { $0 + ($1?.byteCount ?? 0) }
                }
            }
        }
    }

    /// Elements of the flattened parameters.
    public var flatElementCount: Int { get throws(DescentError) { try lock.withLock { _ in offsets.last ?? 0 } } }
}

extension DType {
    /// 0 for float32, 1 for float64: the index of a per-dtype flat buffer.
    var flatIndex: Int { self == .float32 ? 0 : 1 }
}
