#if canImport(Glibc)
import Glibc
#endif

/// Every buffer one batch size needs, allocated once when that batch size is first seen:
/// the value of each computed node, the gradient of each non-parameter node that needs one, and
/// per-node scratch (a dense layer's pre-activation z and dz, batch norm's saved statistics,
/// dropout's mask). Parameter gradients live in the graph's flat gradient buffer instead.
final class GraphPlan {
    let batch: Int
    var lastUse: UInt64 = 0
    let shapes: [[Int]]
    let counts: [Int]
    var values: [Tensor?]
    var gradients: [Tensor?]
    var scratch: [Tensor?]
    var scratch2: [Tensor?]
    /// Holds a contribution that must be added to (not written over) an existing gradient.
    let accumulation: Tensor
    /// float64 accumulators for reductions (bias gradients, broadcast reductions, axis sums).
    let reduceScratch: UnsafeMutablePointer<Double>

    init(graph nodes: [GraphNode], batch: Int, dtype: DType) throws(DescentError) {
        self.batch = batch
        var shapes: [[Int]] = []
        var counts: [Int] = []
        shapes.reserveCapacity(nodes.count)
        for node in nodes {
            let shape = GraphShape.concrete(node.shape, batch: batch)
            shapes.append(shape)
            counts.append(try Shape.elementCount(shape, dtype: dtype))
        }
        var values: [Tensor?] = Array(repeating: nil, count: nodes.count)
        var gradients: [Tensor?] = Array(repeating: nil, count: nodes.count)
        var scratch: [Tensor?] = Array(repeating: nil, count: nodes.count)
        var scratch2: [Tensor?] = Array(repeating: nil, count: nodes.count)
        var largest = 1, widest = 1
        for (index, node) in nodes.enumerated() {
            let shape = shapes[index]
            largest = max(largest, counts[index])
            if let last = shape.last { widest = max(widest, last) }
            switch node.op {
            case .input, .labels, .parameter, .constant:
                continue
            case let .dense(x, w, _, activation, _):
                guard !(shapes[x] + shapes[w]).contains(where: { $0 > Int(Int32.max) }) else {
                    throw DescentError(.unsupported, "node \(index) (dense): extents above 2^31-1 are not supported by BLAS")
                }
                let z = try Tensor.zeros(dtype: dtype, shape: shape)
                if activation == .identity {
                    values[index] = z
                } else {
                    scratch[index] = z
                    values[index] = try Tensor.zeros(dtype: dtype, shape: shape)
                    if node.requiresGradient { scratch2[index] = try Tensor.zeros(dtype: dtype, shape: shape) }
                }
            case .batchNorm:
                values[index] = try Tensor.zeros(dtype: dtype, shape: shape)
                scratch[index] = try Tensor.zeros(dtype: dtype, shape: [shape[1]])
                scratch2[index] = try Tensor.zeros(dtype: dtype, shape: [shape[1]])
            case .dropout:
                values[index] = try Tensor.zeros(dtype: dtype, shape: shape)
                scratch[index] = try Tensor.zeros(dtype: dtype, shape: shape)
            case let .reduce(op, x, axis):
                values[index] = try Tensor.zeros(dtype: dtype, shape: shape)
                // Axis reductions accumulate one output row (the axes after `axis`) in float64;
                // an empty input reduces to nothing (its partial extents may still be huge).
                if op.isAxis && counts[x] > 0 { widest = max(widest, axisSplit(shapes[x], axis).2) }
            case .matmul:
                // BLAS takes 32-bit extents.
                for operand in node.op.operands where shapes[operand].contains(where: { $0 > Int(Int32.max) }) {
                    throw DescentError(.unsupported, "node \(index) (\(node.op.name)): extents above 2^31-1 are not supported by BLAS")
                }
                values[index] = try Tensor.zeros(dtype: dtype, shape: shape)
            default:
                values[index] = try Tensor.zeros(dtype: dtype, shape: shape)
            }
            if node.requiresGradient {
                gradients[index] = try Tensor.zeros(dtype: dtype, shape: shape)
            }
        }
        for node in nodes {
            // Broadcast operands reduce into float64 accumulators of their own size.
            if case let .binary(_, a, b) = node.op { widest = max(widest, min(counts[a], counts[b])) }
        }
        self.shapes = shapes
        self.counts = counts
        self.values = values
        self.gradients = gradients
        self.scratch = scratch
        self.scratch2 = scratch2
        self.accumulation = try Tensor.zeros(dtype: dtype, shape: [largest])
        guard widest <= 1 << 40, let reduce = malloc(widest * MemoryLayout<Double>.stride) else {
            throw DescentError(.outOfMemory, "cannot allocate \(widest) float64 accumulators")
        }
        self.reduceScratch = reduce.assumingMemoryBound(to: Double.self)
    }

    deinit { free(reduceScratch) }
}

extension Graph {
    /// Plans kept at once: the training batch, a smaller last batch, an evaluation batch and one more.
    static let maximumPlans = 4

    /// The plan for `batch`, creating it (and evicting the least recently used) when new.
    func plan(for batch: Int) throws(DescentError) -> GraphPlan {
        planClock &+= 1
        for plan in plans where plan.batch == batch {
            plan.lastUse = planClock
            return plan
        }
        let plan = try GraphPlan(graph: nodes, batch: batch, dtype: dtype)
        plan.lastUse = planClock
        if plans.count >= Self.maximumPlans {
            var oldest = 0
            for index in plans.indices where plans[index].lastUse < plans[oldest].lastUse { oldest = index }
            plans.remove(at: oldest)
        }
        plans.append(plan)
        return plan
    }

    /// Allocates the flat parameter-gradient buffer and its per-parameter views when parameters
    /// were added since the last run.
    func planGradients() throws(DescentError) {
        if gradientBuffer != nil { return }
        var total = 0
        for index in parameterNodes { total += nodes[index].tensor!.count }
        let buffer = try Tensor.zeros(dtype: dtype, shape: [total])
        var views: [Tensor] = []
        var offset = 0
        for index in parameterNodes {
            let parameter = nodes[index].tensor!
            views.append(try Tensor(view: buffer, offset: offset, shape: parameter.shape))
            offset += parameter.count
        }
        gradientBuffer = buffer
        parameterGradients = views
        gradientFinite = Array(repeating: true, count: parameterNodes.count)
        parameterSlot = Array(repeating: -1, count: nodes.count)
        for (slot, index) in parameterNodes.enumerated() { parameterSlot[index] = slot }
    }
}
