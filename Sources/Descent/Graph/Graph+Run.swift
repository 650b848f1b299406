/// Running a graph: forward to any node, backward from a scalar node.
///
/// A run marks the nodes the target needs (walking operands back from it), finds the batch size
/// from the bound inputs, checks everything that could fail part-way (unbound inputs, labels out
/// of range, batch norm with one sample) before anything is written, then evaluates the marked
/// nodes in order. Backward walks the same nodes in reverse: each node's backward rule writes its
/// operands' gradients, the first contribution to a gradient overwriting it and later ones adding
/// to it, so no gradient buffer is ever cleared separately.
extension Graph {
    /// Evaluates `target` (and only what it needs) and returns its value tensor, valid until the
    /// next run. For inputs, params and constants it is the bound or held tensor itself.
    public func forward(_ target: Int) throws(DescentError) -> Tensor {
        try locked { () throws(DescentError) -> Tensor in
            if case .labels = try check(target, "node").op {
                throw .argument("node \(target) is a labels input; it has no float value to evaluate")
            }
            let plan = try prepare(target)
            try evaluate(target, plan)
            return valueTensor(target, plan)
        }
    }

    /// The value node `index` had in the most recent run (without running anything again),
    /// valid until the next run. Throws when that run did not compute the node.
    public func lastValue(_ index: Int) throws(DescentError) -> Tensor {
        try locked { () throws(DescentError) -> Tensor in
            let node = try check(index, "node")
            switch node.op {
            case .parameter, .constant: return node.tensor!
            case .labels: throw .argument("node \(index) is a labels input; it has no float value")
            default: break
            }
            // `computed`, not `needed`: a later run that failed its checks rewrote `needed`.
            guard let plan = lastPlan, computed[index] else {
                throw .argument("node \(index) was not computed by the last run (descent_graph_forward it first)")
            }
            if case .input = node.op, boundInputs[index] == nil {
                throw .argument("input node \(index) is not bound any more")
            }
            return valueTensor(index, plan)
        }
    }

    /// Evaluates the scalar node `loss` and writes the gradient of it with respect to every
    /// trainable parameter into `parameterGradients` (parameters `loss` does not depend on get 0).
    /// Returns the loss.
    @discardableResult
    public func backward(_ loss: Int) throws(DescentError) -> Double {
        try locked { () throws(DescentError) -> Double in try forwardBackward(loss) }
    }

    /// The gradient view of the parameter node `index` (valid for the graph's lifetime, unless
    /// parameters are added later).
    public func gradient(of index: Int) throws(DescentError) -> Tensor {
        try locked { () throws(DescentError) -> Tensor in
            let node = try check(index, "node")
            guard case .parameter = node.op else { throw .argument("node \(index) is a \(node.op.name) node, not a param") }
            try planGradients()
            return parameterGradients[parameterSlot[index]]
        }
    }

    /// The flat buffer holding every parameter's gradient, in parameter order.
    public func flatGradients() throws(DescentError) -> Tensor {
        try locked { () throws(DescentError) -> Tensor in
            try planGradients()
            return gradientBuffer!
        }
    }

    /// Whether every gradient written by the last backward was finite.
    var gradientsAllFinite: Bool {
        for finite in gradientFinite where !finite { return false }
        return true
    }

    // MARK: - Internals (called with the lock held)

    func forwardBackward(_ loss: Int) throws(DescentError) -> Double {
        let node = try check(loss, "loss")
        guard node.shape.isEmpty else {
            throw .shape("backward needs a scalar node; node \(loss) (\(node.op.name)) has shape \(GraphShape.describe(node.shape))")
        }
        try planGradients()
        let plan = try prepare(loss)
        try evaluate(loss, plan)
        let value = valueTensor(loss, plan).value(at: 0)
        switch dtype {
        case .float32: differentiate(Float.self, loss, plan)
        case .float64: differentiate(Double.self, loss, plan)
        }
        lastLoss = value
        return value
    }

    /// Marks what `target` needs, finds the batch size, checks inputs, returns the plan.
    func prepare(_ target: Int) throws(DescentError) -> GraphPlan {
        _ = try check(target, "node")
        for index in needed.indices { needed[index] = false }
        needed[target] = true
        var batch: Int? = nil
        var index = target
        while index >= 0 {
            if needed[index] {
                let node = nodes[index]
                forEachOperand(node.op) { needed[$0] = true }
                switch node.op {
                case .input:
                    guard let bound = boundInputs[index] else {
                        throw .argument("input node \(index) is not bound (descent_graph_set_input)")
                    }
                    for axis in node.shape.indices where node.shape[axis] == batchExtent {
                        try agree(&batch, bound.shape[axis], "input \(index)")
                    }
                case .labels:
                    guard let labels = labelStore[index] else {
                        throw .argument("labels node \(index) is not bound (descent_graph_set_labels)")
                    }
                    try agree(&batch, labels.count, "labels \(index)")
                default: break
                }
            }
            index -= 1
        }
        let resolvedBatch = batch ?? 0
        // Everything that could fail part-way is checked here, before any node is written.
        for index in 0...target where needed[index] {
            switch nodes[index].op {
            case let .cost(cost, prediction, target, _, _) where cost.usesLabels:
                let classes = nodes[prediction].shape[1]
                let labels = labelStore[target]!
                let rows = GraphShape.extent(nodes[prediction].shape, 0, batch: resolvedBatch)
                guard labels.count == rows else {
                    throw .shape("\(cost.name) has \(rows) rows of scores but labels node \(target) holds \(labels.count) labels")
                }
                if let pointer = labels.pointer {
                    for i in 0..<labels.count where pointer[i] < 0 || pointer[i] >= Int64(classes) {
                        throw .argument("label \(pointer[i]) at index \(i) is outside [0, \(classes))")
                    }
                }
            case let .batchNorm(x, _, _, _, _) where training:
                let rows = GraphShape.extent(nodes[x].shape, 0, batch: resolvedBatch)
                guard rows >= 2 else {
                    throw .argument("training batch normalization needs at least 2 samples (got \(rows)); switch to evaluation mode for single samples")
                }
            default: break
            }
        }
        return try plan(for: resolvedBatch)
    }

    private func agree(_ batch: inout Int?, _ extent: Int, _ role: String) throws(DescentError) {
        if let known = batch, known != extent {
            throw .shape("\(role) has batch size \(extent), other inputs have \(known)")
        }
        batch = extent
    }

    /// Runs the forward rule of every needed node up to `target`.
    func evaluate(_ target: Int, _ plan: GraphPlan) throws(DescentError) {
        lastPlan = plan
        for index in computed.indices { computed[index] = needed[index] }
        switch dtype {
        case .float32: for index in 0...target where needed[index] { forwardNode(Float.self, index, plan) }
        case .float64: for index in 0...target where needed[index] { forwardNode(Double.self, index, plan) }
        }
    }

    /// The value tensor of node `index` under `plan`.
    func valueTensor(_ index: Int, _ plan: GraphPlan) -> Tensor {
        switch nodes[index].op {
        case .input: return boundInputs[index]!
        case .parameter, .constant: return nodes[index].tensor!
        default: return plan.values[index]!
        }
    }

    /// Gradient pointer of node `index`: a parameter's slice of the flat buffer, else the plan's.
    func gradientPointer<T: DescentScalar>(_: T.Type, _ index: Int, _ plan: GraphPlan) -> UnsafeMutablePointer<T> {
        let slot = parameterSlot[index]
        if slot >= 0 { return parameterGradients[slot].pointer(as: T.self) }
        return plan.gradients[index]!.pointer(as: T.self)
    }

    /// The backward walk from the scalar `loss` (its value already computed).
    func differentiate<T: DescentScalar>(_: T.Type, _ loss: Int, _ plan: GraphPlan) {
        for index in 0...loss {
            needsGradient[index] = needed[index] && nodes[index].requiresGradient
            firstWriter[index] = -1
            finalWriter[index] = -1
        }
        // Reverse order: the first node met that reads an operand makes the first contribution.
        var index = loss
        while index >= 0 {
            if needsGradient[index] {
                forEachOperand(nodes[index].op) { operand in
                    guard needsGradient[operand] else { return }
                    if firstWriter[operand] == -1 { firstWriter[operand] = index }
                    finalWriter[operand] = index
                }
            }
            index -= 1
        }
        if needsGradient[loss] { gradientPointer(T.self, loss, plan).pointee = 1 }
        for slot in gradientFinite.indices { gradientFinite[slot] = true }
        index = loss
        while index >= 0 {
            if needsGradient[index] {
                backwardNode(T.self, index, plan)
                // A parameter's gradient is final after its last reader's contribution: check it
                // for NaN/inf now, while it is still in cache.
                forEachOperand(nodes[index].op) { operand in
                    let slot = parameterSlot[operand]
                    if slot >= 0, finalWriter[operand] == index, needsGradient[operand] {
                        gradientFinite[slot] = allFinite(UnsafePointer(parameterGradients[slot].pointer(as: T.self)),
                                                         0..<parameterGradients[slot].count)
                    }
                }
            }
            index -= 1
        }
        // Parameters the loss does not reach get a zero gradient (and the loss itself, if a param, 1).
        for (slot, parameter) in parameterNodes.enumerated() where parameter > loss || firstWriter[parameter] == -1 {
            let gradient = parameterGradients[slot]
            let pointer = gradient.pointer(as: T.self)
            let seed: T = parameter == loss && needsGradient[loss] ? 1 : 0
            for i in 0..<gradient.count { pointer[i] = seed }
            gradientFinite[slot] = true
        }
    }

    /// Whether a contribution from `writer` to `operand` overwrites (first) or adds.
    @inline(__always)
    func accumulates(_ operand: Int, from writer: Int) -> Bool { firstWriter[operand] != writer }
}

/// Calls `body` with each operand of `op`, in argument order, without building an array.
@inline(__always)
func forEachOperand(_ op: GraphOp, _ body: (Int) -> Void) {
    switch op {
    case .input, .labels, .parameter, .constant: return
    case let .binary(_, a, b): body(a); body(b)
    case let .unary(_, x): body(x)
    case let .matmul(a, b, _, _): body(a); body(b)
    case let .reduce(_, x, _): body(x)
    case let .activation(_, x, _): body(x)
    case let .cost(_, p, t, _, _): body(p); body(t)
    case let .l2Penalty(w, _, _): body(w)
    case let .dense(x, w, b, _, _): body(x); body(w); if let b { body(b) }
    case let .batchNorm(x, g, b, _, _): body(x); body(g); body(b)
    case let .dropout(x, _, _): body(x)
    }
}
