/// The operations a `Graph` node can hold, with the attributes each needs. Raw values of the
/// small enums are the C ABI's `DESCENT_GRAPH_*` constants.

/// Elementwise binary operations with broadcasting of a trailing-suffix operand (a bias row
/// `(n,)` over `(batch, n)`, or a scalar over anything).
public enum GraphBinary: Int32, Sendable, CaseIterable {
    case add = 0, subtract = 1, multiply = 2, divide = 3

    /// The case for a raw value from the C ABI; `.invalidArgument` for an unknown one.
    public init(checking raw: Int32) throws(DescentError) {
        guard let value = GraphBinary(rawValue: raw) else {
            throw .argument("unknown binary operation \(raw) (0 add, 1 sub, 2 mul, 3 div)")
        }
        self = value
    }

    var name: String { ["add", "sub", "mul", "div"][Int(rawValue)] }
}

/// Elementwise unary operations.
public enum GraphUnary: Int32, Sendable, CaseIterable {
    case exp = 0, log = 1, square = 2, sqrt = 3, negate = 4, sin = 5, cos = 6, abs = 7

    /// The case for a raw value from the C ABI; `.invalidArgument` for an unknown one.
    public init(checking raw: Int32) throws(DescentError) {
        guard let value = GraphUnary(rawValue: raw) else {
            throw .argument("unknown unary operation \(raw) (0 exp, 1 log, 2 square, 3 sqrt, 4 neg, 5 sin, 6 cos, 7 abs)")
        }
        self = value
    }

    var name: String { ["exp", "log", "square", "sqrt", "neg", "sin", "cos", "abs"][Int(rawValue)] }
}

/// Sum or mean, over every element or along one axis.
public enum GraphReduce: Int32, Sendable, CaseIterable {
    case sumAll = 0, meanAll = 1, sumAxis = 2, meanAxis = 3

    /// The case for a raw value from the C ABI; `.invalidArgument` for an unknown one.
    public init(checking raw: Int32) throws(DescentError) {
        guard let value = GraphReduce(rawValue: raw) else {
            throw .argument("unknown reduction \(raw) (0 sum, 1 mean, 2 sum along an axis, 3 mean along an axis)")
        }
        self = value
    }

    var isMean: Bool { self == .meanAll || self == .meanAxis }
    var isAxis: Bool { self == .sumAxis || self == .meanAxis }
}

/// The costs of the Gradients work as graph nodes (each a scalar). Labels-based costs take an
/// integer labels input; the others a target of the prediction's shape.
public enum GraphCost: Int32, Sendable, CaseIterable {
    case sumOfSquares = 0, quadratic = 1, meanSquared = 2, binaryCrossEntropy = 3
    case binaryCrossEntropyLogits = 4, softmaxCrossEntropy = 5, multiclassHinge = 6

    /// The case for a raw value from the C ABI; `.invalidArgument` for an unknown one.
    public init(checking raw: Int32) throws(DescentError) {
        guard let value = GraphCost(rawValue: raw) else {
            throw .argument("unknown cost \(raw) (0 sse, 1 quadratic, 2 mse, 3 bce, 4 bce_logits, 5 softmax_cross_entropy, 6 multiclass_hinge)")
        }
        self = value
    }

    var usesLabels: Bool { self == .softmaxCrossEntropy || self == .multiclassHinge }
    var name: String {
        ["sse", "quadratic", "mse", "bce", "bce_logits", "softmax_cross_entropy", "multiclass_hinge"][Int(rawValue)]
    }
}

/// How a parameter is (re)initialized by `Graph.initializeParameters(seed:)` (random restarts).
public enum ParameterInit: Sendable, Equatable {
    case zeros
    case ones
    case scheme(WeightInit, gain: Double)
}

/// One node: what it computes and from which earlier nodes (inputs always precede their users,
/// so node order is a topological order).
enum GraphOp {
    case input
    case labels
    case parameter
    case constant
    case binary(GraphBinary, Int, Int)
    case unary(GraphUnary, Int)
    case matmul(Int, Int, transposeA: Bool, transposeB: Bool)
    case reduce(GraphReduce, Int, axis: Int)
    case activation(Activation, Int, slope: Double)
    case cost(GraphCost, Int, Int, reduction: Reduction, parameter: Double)
    case l2Penalty(Int, lambda: Double, m: Int)
    case dense(Int, Int, bias: Int?, Activation, slope: Double)
    case batchNorm(Int, gamma: Int, beta: Int, momentum: Double, epsilon: Double)
    case dropout(Int, probability: Double, seed: UInt64)

    /// The nodes this one reads, in argument order.
    var operands: [Int] {
        switch self {
        case .input, .labels, .parameter, .constant: return []
        case let .binary(_, a, b): return [a, b]
        case let .unary(_, x): return [x]
        case let .matmul(a, b, _, _): return [a, b]
        case let .reduce(_, x, _): return [x]
        case let .activation(_, x, _): return [x]
        case let .cost(_, p, t, _, _): return [p, t]
        case let .l2Penalty(w, _, _): return [w]
        case let .dense(x, w, b, _, _): return b.map { [x, w, $0] } ?? [x, w]
        case let .batchNorm(x, g, b, _, _): return [x, g, b]
        case let .dropout(x, _, _): return [x]
        }
    }

    var name: String {
        switch self {
        case .input: return "input"
        case .labels: return "labels"
        case .parameter: return "param"
        case .constant: return "constant"
        case let .binary(op, _, _): return op.name
        case let .unary(op, _): return op.name
        case .matmul: return "matmul"
        case .reduce(let op, _, _): return op.isMean ? "mean" : "sum"
        case .activation: return "activation"
        case .cost(let cost, _, _, _, _): return cost.name
        case .l2Penalty: return "l2_penalty"
        case .dense: return "dense"
        case .batchNorm: return "batch_norm"
        case .dropout: return "dropout"
        }
    }
}

/// The value of `batchExtent` in a symbolic shape: "the batch size, known when inputs are fed".
let batchExtent = -1

struct GraphNode {
    var op: GraphOp
    /// Symbolic shape: `batchExtent` stands for the batch size.
    var shape: [Int]
    /// True when the node depends on a trainable parameter (so backward computes its gradient).
    var requiresGradient: Bool
    /// The tensor of a parameter or constant node.
    var tensor: Tensor?
    /// Parameters: whether the optimizer may update it (false: frozen) and how restarts reset it.
    var trainable = false
    var initializer: ParameterInit?
    /// Batch normalization: running mean and variance (graph-owned, saved with the parameters).
    var runningMean: Tensor?
    var runningVariance: Tensor?
    var name: String = ""
}

enum GraphShape {
    /// The concrete shape for batch size `batch`.
    static func concrete(_ shape: [Int], batch: Int) -> [Int] {
        shape.map { $0 == batchExtent ? batch : $0 }
    }

    /// Extent `axis` of `shape` for batch size `batch`, without building the concrete shape.
    @inline(__always)
    static func extent(_ shape: [Int], _ axis: Int, batch: Int) -> Int {
        shape[axis] == batchExtent ? batch : shape[axis]
    }

    static func describe(_ shape: [Int]) -> String {
        "(" + shape.map { $0 == batchExtent ? "batch" : String($0) }.joined(separator: ", ")
            + (shape.count == 1 ? ",)" : ")")
    }

    /// Output shape of a broadcasting binary op: equal shapes, or one operand is a trailing suffix
    /// of the other (which includes rank 0).
    static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        if a == b { return a }
        if a.count >= b.count, Array(a.suffix(b.count)) == b { return a }
        if b.count > a.count, Array(b.suffix(a.count)) == a { return b }
        return nil
    }
}
