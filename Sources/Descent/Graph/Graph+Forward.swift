#if canImport(Glibc)
import Glibc
#endif

/// Forward rules, one per operation. Elementwise arithmetic reads elements as Double and rounds
/// once when storing (the convention of every kernel in Gradients/); matrix products go through
/// BLAS in the graph's dtype.
extension Graph {
    @inline(__always)
    func pointer<T: DescentScalar>(_: T.Type, _ index: Int, _ plan: GraphPlan) -> UnsafeMutablePointer<T> {
        valueTensor(index, plan).pointer(as: T.self)
    }

    func forwardNode<T: DescentScalar>(_: T.Type, _ index: Int, _ plan: GraphPlan) {
        let count = plan.counts[index]
        switch nodes[index].op {
        case .input, .labels, .parameter, .constant:
            return
        case let .binary(op, a, b):
            let out = pointer(T.self, index, plan), x = pointer(T.self, a, plan), y = pointer(T.self, b, plan)
            let countA = plan.counts[a], countB = plan.counts[b]
            guard count > 0 else { return }
            // One operand has the output's shape; the other repeats every `width` elements.
            let width = min(countA, countB)
            switch op {
            case .add: broadcast(out, x, y, count, countA, countB, width) { $0 + $1 }
            case .subtract: broadcast(out, x, y, count, countA, countB, width) { $0 - $1 }
            case .multiply: broadcast(out, x, y, count, countA, countB, width) { $0 * $1 }
            case .divide: broadcast(out, x, y, count, countA, countB, width) { $0 / $1 }
            }
        case let .unary(op, x):
            let out = pointer(T.self, index, plan), input = pointer(T.self, x, plan)
            switch op {
            case .exp: for i in 0..<count { out[i] = T(GradientMath.exponential(input[i].doubleValue)) }
            case .log: for i in 0..<count { out[i] = T(GradientMath.naturalLog(input[i].doubleValue)) }
            case .square: for i in 0..<count { let v = input[i].doubleValue; out[i] = T(v * v) }
            case .sqrt: for i in 0..<count { out[i] = T(input[i].doubleValue.squareRoot()) }
            case .negate: for i in 0..<count { out[i] = -input[i] }
            case .sin: for i in 0..<count { out[i] = T(Glibc.sin(input[i].doubleValue)) }
            case .cos: for i in 0..<count { out[i] = T(Glibc.cos(input[i].doubleValue)) }
            case .abs: for i in 0..<count { out[i] = Swift.abs(input[i]) }
            }
        case let .matmul(a, b, transposeA, transposeB):
            gemm(T.self, plan.shapes[a], pointer(T.self, a, plan), transposeA,
                 plan.shapes[b], pointer(T.self, b, plan), transposeB,
                 pointer(T.self, index, plan), accumulate: false)
        case let .reduce(op, x, axis):
            reduceForward(T.self, op, x, axis, index, plan)
        case let .activation(kind, x, slope):
            activationForward(T.self, kind, slope, pointer(T.self, x, plan), pointer(T.self, index, plan),
                              count, plan.shapes[index].last ?? 1)
        case let .cost(cost, prediction, target, reduction, parameter):
            let loss = costKernel(T.self, cost, prediction, target, reduction, parameter, plan,
                                  gradient: nil, scale: 1, accumulate: false)
            pointer(T.self, index, plan).pointee = T(loss)
        case let .l2Penalty(w, lambda, m):
            let weights = pointer(T.self, w, plan)
            var squares = 0.0
            for i in 0..<plan.counts[w] { let v = weights[i].doubleValue; squares += v * v }
            pointer(T.self, index, plan).pointee = T(0.5 * lambda / Double(m) * squares)
        case let .dense(x, w, bias, activation, slope):
            let shape = plan.shapes[index]
            let z = activation == .identity ? pointer(T.self, index, plan) : plan.scratch[index]!.pointer(as: T.self)
            if let bias {
                let b = pointer(T.self, bias, plan)
                for row in 0..<shape[0] { (z + row * shape[1]).update(from: b, count: shape[1]) }
            }
            gemm(T.self, plan.shapes[x], pointer(T.self, x, plan), false, plan.shapes[w], pointer(T.self, w, plan), true,
                 z, accumulate: bias != nil)
            if activation != .identity {
                activationForward(T.self, activation, slope, z, pointer(T.self, index, plan), count, shape[1])
            }
        case let .batchNorm(x, gamma, beta, momentum, epsilon):
            let node = nodes[index]
            if training {
                BatchNorm.train(T.self, valueTensor(x, plan), valueTensor(gamma, plan), valueTensor(beta, plan),
                                node.runningMean!, node.runningVariance!, momentum, epsilon, plan.values[index]!,
                                plan.scratch[index]!, plan.scratch2[index]!)
            } else {
                BatchNorm.infer(T.self, valueTensor(x, plan), valueTensor(gamma, plan), valueTensor(beta, plan),
                                node.runningMean!, node.runningVariance!, epsilon, plan.values[index]!)
            }
        case let .dropout(x, probability, seed):
            let out = pointer(T.self, index, plan), input = pointer(T.self, x, plan)
            guard training, probability > 0 else {
                if count > 0 { out.update(from: input, count: count) }
                return
            }
            let mask = plan.scratch[index]!.pointer(as: T.self)
            fillDropoutMask(mask, count, probability: probability, seed: seed, step: dropoutStep)
            for i in 0..<count { out[i] = input[i] * mask[i] }
        }
    }

    /// out[i] = f(a, b) where the smaller operand repeats every `width` elements.
    @inline(__always)
    private func broadcast<T: DescentScalar>(_ out: UnsafeMutablePointer<T>, _ a: UnsafeMutablePointer<T>,
                                             _ b: UnsafeMutablePointer<T>, _ count: Int, _ countA: Int, _ countB: Int,
                                             _ width: Int, _ f: (Double, Double) -> Double) {
        if countA == countB {
            for i in 0..<count { out[i] = T(f(a[i].doubleValue, b[i].doubleValue)) }
        } else if countB == width {
            for start in stride(from: 0, to: count, by: width) {
                for j in 0..<width { out[start + j] = T(f(a[start + j].doubleValue, b[j].doubleValue)) }
            }
        } else {
            for start in stride(from: 0, to: count, by: width) {
                for j in 0..<width { out[start + j] = T(f(a[j].doubleValue, b[start + j].doubleValue)) }
            }
        }
    }

    func reduceForward<T: DescentScalar>(_: T.Type, _ op: GraphReduce, _ x: Int, _ axis: Int, _ index: Int,
                                         _ plan: GraphPlan) {
        let input = pointer(T.self, x, plan), out = pointer(T.self, index, plan)
        let count = plan.counts[x]
        if !op.isAxis {
            var total = 0.0
            for i in 0..<count { total += input[i].doubleValue }
            out.pointee = T(op.isMean ? total / Double(count) : total)
            return
        }
        guard plan.counts[index] > 0 else { return }
        guard count > 0 else {  // reducing an empty axis: sums are 0, means NaN
            for i in 0..<plan.counts[index] { out[i] = op.isMean ? T.nan : 0 }
            return
        }
        let (outer, length, inner) = axisSplit(plan.shapes[x], axis)
        let sums = plan.reduceScratch
        let scale = op.isMean ? 1 / Double(length) : 1
        for o in 0..<outer {
            for k in 0..<inner { sums[k] = 0 }
            for a in 0..<length {
                let row = input + (o * length + a) * inner
                for k in 0..<inner { sums[k] += row[k].doubleValue }
            }
            for k in 0..<inner { out[o * inner + k] = T(sums[k] * scale) }
        }
    }

    func activationForward<T: DescentScalar>(_: T.Type, _ kind: Activation, _ slope: Double,
                                             _ input: UnsafeMutablePointer<T>, _ out: UnsafeMutablePointer<T>,
                                             _ count: Int, _ width: Int) {
        guard kind == .softmax else {
            switch kind {
            case .relu: Kernels.relu(input, out, count)  // NaN propagates
            case .identity: if out != input { out.update(from: input, count: count) }
            default: for i in 0..<count { out[i] = T(kind.scalar(input[i].doubleValue, slope)) }
            }
            return
        }
        guard width > 0 else { return }
        for start in stride(from: 0, to: count, by: width) {
            var largest = -Double.infinity
            for j in 0..<width { largest = max(largest, input[start + j].doubleValue) }
            if !largest.isFinite { largest = 0 }
            var total = 0.0
            for j in 0..<width { total += GradientMath.exponential(input[start + j].doubleValue - largest) }
            for j in 0..<width {
                out[start + j] = T(GradientMath.exponential(input[start + j].doubleValue - largest) / total)
            }
        }
    }
}

/// (product of extents before `axis`, extent of `axis`, product after).
func axisSplit(_ shape: [Int], _ axis: Int) -> (Int, Int, Int) {
    var outer = 1, inner = 1
    for a in 0..<axis { outer *= shape[a] }
    for a in (axis + 1)..<shape.count { inner *= shape[a] }
    return (outer, shape[axis], inner)
}

/// Inverted-dropout mask for training step `step`: element i keeps (1/(1-p)) when
/// u_i >= p, else 0, with u_i = unit53(i) of the SplitMix64 stream seeded by mix(seed, step).
func fillDropoutMask<T: DescentScalar>(_ mask: UnsafeMutablePointer<T>, _ count: Int, probability: Double,
                                       seed: UInt64, step: UInt64) {
    let stream = SplitMix64(seed: SplitMix64(seed: seed).output(step))
    let keep = T(1 / (1 - probability))
    for i in 0..<count { mask[i] = stream.unit53(UInt64(i)) >= probability ? keep : 0 }
}

/// C = op(A) op(B) (+ C when accumulating) for row-major A and B with the given shapes.
func gemm<T: DescentScalar>(_: T.Type, _ shapeA: [Int], _ a: UnsafeMutablePointer<T>, _ transposeA: Bool,
                            _ shapeB: [Int], _ b: UnsafeMutablePointer<T>, _ transposeB: Bool,
                            _ c: UnsafeMutablePointer<T>, accumulate: Bool) {
    let (m, k) = transposeA ? (shapeA[1], shapeA[0]) : (shapeA[0], shapeA[1])
    let n = transposeB ? shapeB[0] : shapeB[1]
    guard m > 0, n > 0 else { return }
    guard k > 0 else {
        if !accumulate { c.update(repeating: 0, count: m * n) }
        return
    }
    T.blasGemm(transposeA: transposeA, transposeB: transposeB, m: Int32(m), n: Int32(n), k: Int32(k),
               alpha: 1, a: a, lda: Int32(max(shapeA[1], 1)), b: b, ldb: Int32(max(shapeB[1], 1)),
               beta: accumulate ? 1 : 0, c: c, ldc: Int32(max(n, 1)))
}
