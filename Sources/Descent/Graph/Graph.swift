import Synchronization

/// A computation graph with reverse-mode automatic differentiation, built once and run many
/// times (the shape of ggml's graphs and micrograd's backward walk).
///
/// Nodes are added in order and only read earlier nodes, so node order is a topological order:
/// - **inputs** are fed per batch (zero-copy: the bound tensor usually wraps caller memory); their
///   leading extent may be the symbolic batch size;
/// - **labels** inputs take integer class labels (one per sample) for the classification costs;
/// - **parameters** are tensors the graph reads in place (often wrapping NumPy arrays); backward
///   writes the gradient of each into one flat buffer (`gradientBuffer`), one slice per parameter;
/// - **operations** (elementwise with broadcasting, matmul, reductions, activations, costs, dense
///   layers, batch normalization, dropout).
///
/// `forward(node)` evaluates a node (and only the nodes it needs); `backward(loss)` evaluates a
/// scalar node and writes every parameter's gradient. Value and gradient buffers are planned the
/// first time a batch size is seen and reused afterwards: no allocation per step.
///
/// Every graph has one dtype (float32 or float64). All methods are safe to call from several
/// threads (one lock per graph). C counterpart: `descent_graph`.
public final class Graph {
    /// The element type of every value, gradient and parameter of the graph.
    public let dtype: DType
    var nodes: [GraphNode] = []
    /// Indices of parameter nodes, in creation order.
    var parameterNodes: [Int] = []
    /// Training mode (batch norm uses batch statistics and updates running ones; dropout drops).
    var training = true
    /// Counts training steps; dropout masks are a function of (seed, this counter, element).
    var dropoutStep: UInt64 = 0

    /// Bound inputs (by node index) and label buffers.
    var boundInputs: [Tensor?] = []
    var labelStore: [LabelBuffer?] = []

    /// Parameter gradients: one flat buffer (one contiguous region, for a single allreduce), each
    /// parameter's gradient a view into it. Rebuilt when parameters are added.
    var gradientBuffer: Tensor?
    var parameterGradients: [Tensor] = []
    /// Per parameter: whether its last backward wrote only finite values.
    var gradientFinite: [Bool] = []

    /// Execution plans by batch size (a few kept; see `plan(for:)`).
    var plans: [GraphPlan] = []
    var planClock: UInt64 = 0
    /// Work arrays of size nodes.count, reused by every run.
    var needed: [Bool] = []
    var needsGradient: [Bool] = []
    var firstWriter: [Int] = []
    var finalWriter: [Int] = []
    /// Batch norm nodes: a copy of the running statistics taken before each training step.
    var runningBackup: [Tensor?] = []
    /// Node index -> position in `parameterNodes` (-1 for other nodes).
    var parameterSlot: [Int] = []
    var lastLoss: Double = .nan
    /// The plan of the most recent run and the nodes it computed (`needed` is a work array: a run
    /// that fails in its checks rewrites it without computing anything).
    var lastPlan: GraphPlan?
    var computed: [Bool] = []

    let lock = ForkAwareMutex((), owner: "graph")

    /// An empty graph of `dtype`.
    public init(dtype: DType) {
        self.dtype = dtype
    }

    /// Runs `body` under the graph's lock (results cross the lock in a box: tensors are not Sendable,
    /// and the lock is what makes handing them out safe).
    func locked<R>(_ body: () throws(DescentError) -> R) throws(DescentError) -> R {
        try lock.withLock { _ throws(DescentError) -> R in try body() }
    }

    /// How many nodes the graph has.
    public var nodeCount: Int { get throws(DescentError) { try locked { nodes.count } } }

    // MARK: - Building

    func append(_ node: GraphNode) -> Int {
        nodes.append(node)
        boundInputs.append(nil)
        labelStore.append(nil)
        needed.append(false)
        needsGradient.append(false)
        firstWriter.append(-1)
        finalWriter.append(-1)
        runningBackup.append(nil)
        parameterSlot.append(-1)
        computed.append(false)
        plans.removeAll()  // shapes of the new node are not planned yet
        lastPlan = nil
        return nodes.count - 1
    }

    /// Removes the nodes from `count` on (the most recently added ones), e.g. to undo a composite
    /// build that failed part-way (a constant made for an operand, then an operation that refused
    /// it). Param nodes cannot be removed (optimizers and trainers hold their memory). Nodes read
    /// only earlier nodes, so the others stay valid; a plan is made again at the next run.
    public func truncate(to count: Int) throws(DescentError) {
        try locked { () throws(DescentError) in
            guard count >= 0, count <= nodes.count else {
                throw .argument("cannot truncate to \(count) nodes: the graph has \(nodes.count)")
            }
            for index in count..<nodes.count {
                if case .parameter = nodes[index].op {
                    throw .argument("cannot remove node \(index): it is a param (only nodes after the last param can be removed)")
                }
            }
            let removed = nodes.count - count
            guard removed > 0 else { return }
            nodes.removeLast(removed)
            boundInputs.removeLast(removed)
            labelStore.removeLast(removed)
            needed.removeLast(removed)
            needsGradient.removeLast(removed)
            firstWriter.removeLast(removed)
            finalWriter.removeLast(removed)
            runningBackup.removeLast(removed)
            parameterSlot.removeLast(removed)
            computed.removeLast(removed)
            plans.removeAll()
            lastPlan = nil
            for index in computed.indices { computed[index] = false }
        }
    }

    func check(_ index: Int, _ role: String) throws(DescentError) -> GraphNode {
        guard index >= 0, index < nodes.count else {
            throw .argument("\(role) \(index) is not a node of this graph (it has \(nodes.count))")
        }
        return nodes[index]
    }

    func checkFloat(_ index: Int, _ role: String) throws(DescentError) -> GraphNode {
        let node = try check(index, role)
        if case .labels = node.op {
            throw .argument("\(role) \(index) is a labels input (integers); only the classification costs read labels")
        }
        return node
    }

    /// A float input with `shape`, where `batchExtent` (-1) marks the batch axis.
    public func addInput(shape: [Int]) throws(DescentError) -> Int {
        guard shape.count <= Shape.maxRank else { throw .shape("rank \(shape.count) is above \(Shape.maxRank)") }
        for (axis, extent) in shape.enumerated() where extent < 0 && extent != batchExtent {
            throw .shape("extent \(extent) on axis \(axis): use -1 for the batch axis, otherwise >= 0")
        }
        return try locked { append(GraphNode(op: .input, shape: shape, requiresGradient: false)) }
    }

    /// An input of integer class labels, one per sample (shape `(batch,)`).
    public func addLabels() throws(DescentError) -> Int {
        try locked { append(GraphNode(op: .labels, shape: [batchExtent], requiresGradient: false)) }
    }

    /// A parameter read in place from `tensor` (which may wrap caller memory). `trainable` false
    /// freezes it (no gradient written, never updated by a trainer).
    public func addParameter(_ tensor: Tensor, trainable: Bool = true,
                             initializer: ParameterInit? = nil) throws(DescentError) -> Int {
        try locked { () throws(DescentError) -> Int in
            guard tensor.dtype == dtype else { throw .dtype("param is \(tensor.dtype), the graph is \(dtype)") }
            for index in parameterNodes where overlaps(nodes[index].tensor!, tensor) {
                throw .argument("this tensor shares memory with param node \(index)")
            }
            if let initializer { try Self.validate(initializer, shape: tensor.shape) }
            var node = GraphNode(op: .parameter, shape: tensor.shape, requiresGradient: trainable, tensor: tensor)
            node.trainable = trainable
            node.initializer = initializer
            let index = append(node)
            parameterNodes.append(index)
            gradientBuffer = nil  // re-planned on the next backward
            return index
        }
    }

    /// A constant (the graph keeps `tensor`; it is read in place, never differentiated).
    public func addConstant(_ tensor: Tensor) throws(DescentError) -> Int {
        try locked { () throws(DescentError) -> Int in
            guard tensor.dtype == dtype else { throw .dtype("constant is \(tensor.dtype), the graph is \(dtype)") }
            return append(GraphNode(op: .constant, shape: tensor.shape, requiresGradient: false, tensor: tensor))
        }
    }

    /// A rank-0 constant.
    public func addScalar(_ value: Double) throws(DescentError) -> Int {
        try addConstant(Tensor.full(value, dtype: dtype, shape: []))
    }

    /// An elementwise `a op b` with broadcasting of a trailing-suffix operand.
    public func addBinary(_ op: GraphBinary, _ a: Int, _ b: Int) throws(DescentError) -> Int {
        try locked { () throws(DescentError) -> Int in
            let left = try checkFloat(a, "a"), right = try checkFloat(b, "b")
            guard let shape = GraphShape.broadcast(left.shape, right.shape) else {
                throw .shape("\(op.name): shapes \(GraphShape.describe(left.shape)) and \(GraphShape.describe(right.shape)) do not broadcast (one must equal the trailing axes of the other)")
            }
            return append(GraphNode(op: .binary(op, a, b), shape: shape,
                                    requiresGradient: left.requiresGradient || right.requiresGradient))
        }
    }

    /// An elementwise unary operation of `x`.
    public func addUnary(_ op: GraphUnary, _ x: Int) throws(DescentError) -> Int {
        try locked { () throws(DescentError) -> Int in
            let input = try checkFloat(x, "x")
            return append(GraphNode(op: .unary(op, x), shape: input.shape, requiresGradient: input.requiresGradient))
        }
    }

    /// `op(a) · op(b)` for rank-2 nodes, op = transpose when asked.
    public func addMatmul(_ a: Int, _ b: Int, transposeA: Bool, transposeB: Bool) throws(DescentError) -> Int {
        try locked { () throws(DescentError) -> Int in
            let left = try checkFloat(a, "a"), right = try checkFloat(b, "b")
            guard left.shape.count == 2, right.shape.count == 2 else {
                throw .shape("matmul needs rank-2 operands, got \(GraphShape.describe(left.shape)) and \(GraphShape.describe(right.shape))")
            }
            let (m, k) = transposeA ? (left.shape[1], left.shape[0]) : (left.shape[0], left.shape[1])
            let (kb, n) = transposeB ? (right.shape[1], right.shape[0]) : (right.shape[0], right.shape[1])
            guard k == kb else {
                throw .shape("matmul inner extents differ: op(a) is \(GraphShape.describe([m, k])), op(b) is \(GraphShape.describe([kb, n]))")
            }
            return append(GraphNode(op: .matmul(a, b, transposeA: transposeA, transposeB: transposeB), shape: [m, n],
                                    requiresGradient: left.requiresGradient || right.requiresGradient))
        }
    }

    /// Sum or mean over all elements (a scalar) or along `axis` (negative counts from the end).
    public func addReduce(_ op: GraphReduce, _ x: Int, axis: Int = 0) throws(DescentError) -> Int {
        try locked { () throws(DescentError) -> Int in
            let input = try checkFloat(x, "x")
            var shape: [Int] = []
            var resolved = 0
            if op.isAxis {
                let rank = input.shape.count
                resolved = axis < 0 ? axis + rank : axis
                guard resolved >= 0, resolved < rank else {
                    throw .argument("axis \(axis) is out of range for shape \(GraphShape.describe(input.shape))")
                }
                shape = input.shape
                shape.remove(at: resolved)
            }
            return append(GraphNode(op: .reduce(op, x, axis: resolved), shape: shape,
                                    requiresGradient: input.requiresGradient))
        }
    }

    /// An activation of `x` (softmax along the last axis).
    public func addActivation(_ kind: Activation, _ x: Int, negativeSlope: Double = 0.01) throws(DescentError) -> Int {
        try locked { () throws(DescentError) -> Int in
            let input = try checkFloat(x, "x")
            if kind == .leakyRelu { try requireFiniteScalar(negativeSlope, "leaky ReLU negative slope") }
            if kind == .softmax && input.shape.isEmpty { throw .shape("softmax needs rank >= 1 (it normalizes along the last axis)") }
            return append(GraphNode(op: .activation(kind, x, slope: negativeSlope), shape: input.shape,
                                    requiresGradient: input.requiresGradient))
        }
    }

    /// A cost node (a scalar). `target` is a labels input for the classification costs, otherwise
    /// a node of the prediction's shape that must not depend on parameters. `parameter` is BCE's
    /// clamp ε (0 < ε < 0.5) or the hinge margin; ignored by the others.
    public func addCost(_ cost: GraphCost, prediction: Int, target: Int, reduction: Reduction = .mean,
                        parameter: Double = 0) throws(DescentError) -> Int {
        try locked { () throws(DescentError) -> Int in
            let predicted = try checkFloat(prediction, "prediction")
            let targetNode = try check(target, "target")
            if cost.usesLabels {
                guard case .labels = targetNode.op else {
                    throw .argument("\(cost.name) needs a labels input as its target (descent_graph_labels)")
                }
                guard predicted.shape.count == 2 else {
                    throw .shape("\(cost.name) needs (batch, classes) scores, got \(GraphShape.describe(predicted.shape))")
                }
                guard predicted.shape[1] != batchExtent else {
                    throw .shape("\(cost.name): the class axis cannot be the batch axis")
                }
            } else {
                if case .labels = targetNode.op {
                    throw .argument("\(cost.name) compares with a target of the prediction's shape, not with labels")
                }
                guard targetNode.shape == predicted.shape else {
                    throw .shape("\(cost.name): target shape \(GraphShape.describe(targetNode.shape)) differs from prediction \(GraphShape.describe(predicted.shape))")
                }
                guard !targetNode.requiresGradient else {
                    throw .argument("\(cost.name): the target depends on parameters; gradients flow only into the prediction")
                }
            }
            switch cost {
            case .binaryCrossEntropy:
                guard parameter.isFinite, parameter > 0, parameter < 0.5 else {
                    throw .argument("bce epsilon must lie in (0, 0.5), got \(parameter)")
                }
            case .multiclassHinge: try requireFiniteScalar(parameter, "margin")
            default: break
            }
            return append(GraphNode(op: .cost(cost, prediction, target, reduction: reduction, parameter: parameter),
                                    shape: [], requiresGradient: predicted.requiresGradient))
        }
    }

    /// R = λ/(2m) ‖w‖² (a scalar), gradient (λ/m) w.
    public func addL2Penalty(_ w: Int, lambda: Double, m: Int = 1) throws(DescentError) -> Int {
        try locked { () throws(DescentError) -> Int in
            let weights = try checkFloat(w, "w")
            guard lambda.isFinite, lambda >= 0 else { throw .argument("lambda must be finite and >= 0, got \(lambda)") }
            guard m >= 1 else { throw .argument("m must be >= 1, got \(m)") }
            return append(GraphNode(op: .l2Penalty(w, lambda: lambda, m: m), shape: [],
                                    requiresGradient: weights.requiresGradient))
        }
    }

    /// A dense layer `f(x Wᵀ + b)`: x (batch, in), W (out, in), b (out,) or nil.
    public func addDense(_ x: Int, weights: Int, bias: Int?, activation: Activation,
                         negativeSlope: Double = 0.01) throws(DescentError) -> Int {
        try locked { () throws(DescentError) -> Int in
            let input = try checkFloat(x, "x"), w = try checkFloat(weights, "weights")
            guard input.shape.count == 2, w.shape.count == 2 else {
                throw .shape("dense needs x (batch, in) and W (out, in), got \(GraphShape.describe(input.shape)) and \(GraphShape.describe(w.shape))")
            }
            guard input.shape[1] == w.shape[1] else {
                throw .shape("dense: x has \(GraphShape.describe([input.shape[1]])) features, W (out, in) is \(GraphShape.describe(w.shape))")
            }
            var requires = input.requiresGradient || w.requiresGradient
            if let bias {
                let b = try checkFloat(bias, "bias")
                guard b.shape == [w.shape[0]] else {
                    throw .shape("dense: bias has shape \(GraphShape.describe(b.shape)), expected \(GraphShape.describe([w.shape[0]]))")
                }
                requires = requires || b.requiresGradient
            }
            if activation == .leakyRelu { try requireFiniteScalar(negativeSlope, "leaky ReLU negative slope") }
            return append(GraphNode(op: .dense(x, weights, bias: bias, activation, slope: negativeSlope),
                                    shape: [input.shape[0], w.shape[0]], requiresGradient: requires))
        }
    }

    /// Batch normalization of x (batch, features) with per-feature γ and β nodes; the graph owns
    /// the running mean (0) and variance (1). PyTorch's momentum convention (weight of the new batch).
    public func addBatchNorm(_ x: Int, gamma: Int, beta: Int, momentum: Double = 0.1,
                             epsilon: Double = 1e-5) throws(DescentError) -> Int {
        try locked { () throws(DescentError) -> Int in
            let input = try checkFloat(x, "x"), g = try checkFloat(gamma, "gamma"), b = try checkFloat(beta, "beta")
            guard input.shape.count == 2, input.shape[1] != batchExtent else {
                throw .shape("batch norm needs x of shape (batch, features), got \(GraphShape.describe(input.shape))")
            }
            let features = input.shape[1]
            guard g.shape == [features], b.shape == [features] else {
                throw .shape("batch norm: gamma and beta must have shape (\(features),)")
            }
            guard momentum.isFinite, momentum >= 0, momentum <= 1 else {
                throw .argument("momentum must lie in [0, 1], got \(momentum)")
            }
            guard epsilon.isFinite, epsilon > 0 else { throw .argument("epsilon must be finite and > 0, got \(epsilon)") }
            var node = GraphNode(op: .batchNorm(x, gamma: gamma, beta: beta, momentum: momentum, epsilon: epsilon),
                                 shape: input.shape,
                                 requiresGradient: input.requiresGradient || g.requiresGradient || b.requiresGradient)
            node.runningMean = try Tensor.zeros(dtype: dtype, shape: [features])
            node.runningVariance = try Tensor.ones(dtype: dtype, shape: [features])
            let backup = try Tensor.zeros(dtype: dtype, shape: [2 * features])
            let index = append(node)
            runningBackup[index] = backup
            return index
        }
    }

    /// Inverted dropout: in training each element is kept with probability 1 - p and scaled by
    /// 1/(1 - p); in evaluation the node is the identity. The mask of training step s is a pure
    /// function of (seed, s, element index).
    public func addDropout(_ x: Int, probability: Double, seed: UInt64) throws(DescentError) -> Int {
        try locked { () throws(DescentError) -> Int in
            let input = try checkFloat(x, "x")
            guard probability.isFinite, probability >= 0, probability < 1 else {
                throw .argument("dropout probability must lie in [0, 1), got \(probability)")
            }
            return append(GraphNode(op: .dropout(x, probability: probability, seed: seed), shape: input.shape,
                                    requiresGradient: input.requiresGradient))
        }
    }

    static func validate(_ initializer: ParameterInit, shape: [Int]) throws(DescentError) {
        if case let .scheme(scheme, gain) = initializer { _ = try scheme.parameter(shape: shape, gain: gain) }
    }

    // MARK: - Queries

    /// The symbolic shape of a node (`batchExtent` = -1 marks the batch axis).
    public func shape(of index: Int) throws(DescentError) -> [Int] {
        try locked { () throws(DescentError) -> [Int] in try check(index, "node").shape }
    }

    /// Parameter node indices in creation order.
    public var parameters: [Int] { get throws(DescentError) { try locked { parameterNodes } } }

    /// The tensor a parameter node reads in place.
    public func parameterTensor(_ index: Int) throws(DescentError) -> Tensor {
        try locked { () throws(DescentError) -> Tensor in
            let node = try check(index, "node")
            guard case .parameter = node.op, let tensor = node.tensor else { throw .argument("node \(index) is not a param") }
            return tensor
        }
    }

    /// Batch norm node `index`'s running mean and variance tensors (read and written in place).
    public func runningStatistics(_ index: Int) throws(DescentError) -> (mean: Tensor, variance: Tensor) {
        try locked { () throws(DescentError) -> (mean: Tensor, variance: Tensor) in
            let node = try check(index, "node")
            guard let mean = node.runningMean, let variance = node.runningVariance else {
                throw .argument("node \(index) is a \(node.op.name) node, not a batch norm node")
            }
            return (mean, variance)
        }
    }

    /// Training mode (batch norm on batch statistics, dropout on) or evaluation mode.
    public var isTraining: Bool { get throws(DescentError) { try locked { training } } }

    /// Training (true) or evaluation mode.
    public func setTraining(_ value: Bool) throws(DescentError) { try locked { training = value } }

    /// Sets the training-step counter that addresses dropout masks.
    public func setDropoutStep(_ step: UInt64) throws(DescentError) { try locked { dropoutStep = step } }
    /// The training-step counter dropout masks are derived from.
    public var currentDropoutStep: UInt64 { get throws(DescentError) { try locked { dropoutStep } } }

    /// Binds a float input. Its shape must match the input's (any extent on the batch axis).
    /// The graph reads the tensor in place on every run until it is bound again.
    public func bindInput(_ index: Int, _ tensor: Tensor) throws(DescentError) {
        try locked { () throws(DescentError) in
            let node = try check(index, "node")
            guard case .input = node.op else { throw .argument("node \(index) is a \(node.op.name) node, not an input") }
            guard tensor.dtype == dtype else { throw .dtype("input is \(tensor.dtype), the graph is \(dtype)") }
            guard tensor.rank == node.shape.count,
                  zip(tensor.shape, node.shape).allSatisfy({ $1 == batchExtent || $0 == $1 }) else {
                throw .shape("input \(index) expects shape \(GraphShape.describe(node.shape)), got \(Shape.describe(tensor.shape))")
            }
            boundInputs[index] = tensor
        }
    }

    /// Copies `count` labels into the labels input `index` (each checked against the class count
    /// when a cost reads them).
    public func bindLabels(_ index: Int, _ labels: UnsafePointer<Int64>, count: Int) throws(DescentError) {
        try locked { () throws(DescentError) in
            let node = try check(index, "node")
            guard case .labels = node.op else { throw .argument("node \(index) is a \(node.op.name) node, not a labels input") }
            guard count >= 0 else { throw .argument("label count \(count) is negative") }
            let buffer = labelStore[index] ?? LabelBuffer()
            try buffer.assign(labels, count: count)
            labelStore[index] = buffer
        }
    }
}

/// Carries a value out of a lock.
struct Unchecked<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// Growable storage for one labels input (reallocated only when a larger batch arrives).
final class LabelBuffer {
    private(set) var pointer: UnsafeMutablePointer<Int64>?
    private(set) var capacity = 0
    private(set) var count = 0

    init() {}

    func reserve(_ needed: Int) throws(DescentError) {
        guard needed > capacity else { return }
        guard needed <= 1 << 40, let fresh = malloc(max(needed, 1) * 8) else {
            throw DescentError(.outOfMemory, "cannot allocate \(needed) labels")
        }
        free(pointer)
        pointer = fresh.assumingMemoryBound(to: Int64.self)
        capacity = needed
    }

    func assign(_ labels: UnsafePointer<Int64>, count: Int) throws(DescentError) {
        try reserve(count)
        if count > 0 { pointer!.update(from: labels, count: count) }
        self.count = count
    }

    /// Makes room for `count` labels written by the caller (a loader's gather).
    func resize(_ count: Int) throws(DescentError) -> UnsafeMutablePointer<Int64> {
        try reserve(count)
        self.count = count
        return pointer!
    }

    deinit { free(pointer) }
}

#if canImport(Glibc)
import Glibc
#endif
