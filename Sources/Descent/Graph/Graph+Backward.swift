#if canImport(Glibc)
import Glibc
#endif

/// Backward rules (vector-Jacobian products), one per operation. Each reads the node's output
/// gradient g and writes its contribution to every operand that needs a gradient: the first
/// contribution overwrites, later ones add (`accumulates`). An operand read twice by one node
/// (x * x) gets its second contribution added.
extension Graph {
    func backwardNode<T: DescentScalar>(_: T.Type, _ index: Int, _ plan: GraphPlan) {
        let g = gradientPointer(T.self, index, plan)
        let count = plan.counts[index]
        switch nodes[index].op {
        case .input, .labels, .parameter, .constant:
            return
        case let .binary(op, a, b):
            let x = pointer(T.self, a, plan), y = pointer(T.self, b, plan)
            let countA = plan.counts[a], countB = plan.counts[b]
            let width = min(countA, countB)
            if needsGradient[a] {
                let target = gradientPointer(T.self, a, plan), add = accumulates(a, from: index)
                // Index of the other operand for output element i.
                switch op {
                case .add, .subtract:
                    contribute(target, countA, count, add, plan) { i in g[i].doubleValue }
                case .multiply:
                    contribute(target, countA, count, add, plan) { i in
                        g[i].doubleValue * y[countB == count ? i : i % width].doubleValue
                    }
                case .divide:
                    contribute(target, countA, count, add, plan) { i in
                        g[i].doubleValue / y[countB == count ? i : i % width].doubleValue
                    }
                }
            }
            if needsGradient[b] {
                let target = gradientPointer(T.self, b, plan)
                let add = accumulates(b, from: index) || (a == b && needsGradient[a])
                switch op {
                case .add:
                    contribute(target, countB, count, add, plan) { i in g[i].doubleValue }
                case .subtract:
                    contribute(target, countB, count, add, plan) { i in -g[i].doubleValue }
                case .multiply:
                    contribute(target, countB, count, add, plan) { i in
                        g[i].doubleValue * x[countA == count ? i : i % width].doubleValue
                    }
                case .divide:
                    contribute(target, countB, count, add, plan) { i in
                        let divisor = y[countB == count ? i : i % width].doubleValue
                        return -g[i].doubleValue * x[countA == count ? i : i % width].doubleValue / (divisor * divisor)
                    }
                }
            }
        case let .unary(op, x):
            guard needsGradient[x] else { return }
            let input = pointer(T.self, x, plan), output = pointer(T.self, index, plan)
            let target = gradientPointer(T.self, x, plan), add = accumulates(x, from: index)
            switch op {
            case .exp: elementwise(target, count, add) { i in g[i].doubleValue * output[i].doubleValue }
            case .log: elementwise(target, count, add) { i in g[i].doubleValue / input[i].doubleValue }
            case .square: elementwise(target, count, add) { i in 2 * input[i].doubleValue * g[i].doubleValue }
            case .sqrt: elementwise(target, count, add) { i in g[i].doubleValue / (2 * output[i].doubleValue) }
            case .negate: elementwise(target, count, add) { i in -g[i].doubleValue }
            case .sin: elementwise(target, count, add) { i in g[i].doubleValue * Glibc.cos(input[i].doubleValue) }
            case .cos: elementwise(target, count, add) { i in -g[i].doubleValue * Glibc.sin(input[i].doubleValue) }
            case .abs:  // sign(x), with 0 at x = 0 (PyTorch's subgradient); NaN stays NaN
                elementwise(target, count, add) { i in
                    let x = input[i].doubleValue
                    return g[i].doubleValue * (x > 0 ? 1 : x < 0 ? -1 : x.isNaN ? x : 0)
                }
            }
        case let .matmul(a, b, transposeA, transposeB):
            let shapeA = plan.shapes[a], shapeB = plan.shapes[b], shapeC = plan.shapes[index]
            let x = pointer(T.self, a, plan), y = pointer(T.self, b, plan)
            if needsGradient[a] {
                let target = gradientPointer(T.self, a, plan), add = accumulates(a, from: index)
                if transposeA {  // A is (k, m): dA = op(B) gᵀ
                    gemm(T.self, shapeB, y, transposeB, shapeC, g, true, target, accumulate: add)
                } else {         // dA = g op(B)ᵀ
                    gemm(T.self, shapeC, g, false, shapeB, y, !transposeB, target, accumulate: add)
                }
            }
            if needsGradient[b] {
                let target = gradientPointer(T.self, b, plan)
                let add = accumulates(b, from: index) || (a == b && needsGradient[a])
                if transposeB {  // B is (n, k): dB = gᵀ op(A)
                    gemm(T.self, shapeC, g, true, shapeA, x, transposeA, target, accumulate: add)
                } else {         // dB = op(A)ᵀ g
                    gemm(T.self, shapeA, x, !transposeA, shapeC, g, false, target, accumulate: add)
                }
            }
        case let .reduce(op, x, axis):
            guard needsGradient[x] else { return }
            let target = gradientPointer(T.self, x, plan), add = accumulates(x, from: index)
            let inputCount = plan.counts[x]
            if !op.isAxis {
                let value = g.pointee.doubleValue * (op.isMean ? 1 / Double(inputCount) : 1)
                elementwise(target, inputCount, add) { _ in value }
            } else if inputCount > 0 {
                let (_, length, inner) = axisSplit(plan.shapes[x], axis)
                let scale = op.isMean ? 1 / Double(length) : 1
                elementwise(target, inputCount, add) { i in
                    g[(i / (length * inner)) * inner + i % inner].doubleValue * scale
                }
            }
        case let .activation(kind, x, slope):
            guard needsGradient[x] else { return }
            activationBackward(T.self, kind, slope, pointer(T.self, x, plan), pointer(T.self, index, plan), g,
                               gradientPointer(T.self, x, plan), count, plan.shapes[index].last ?? 1,
                               accumulate: accumulates(x, from: index))
        case let .cost(cost, prediction, target, reduction, parameter):
            guard needsGradient[prediction] else { return }
            _ = costKernel(T.self, cost, prediction, target, reduction, parameter, plan,
                           gradient: gradientPointer(T.self, prediction, plan), scale: g.pointee.doubleValue,
                           accumulate: accumulates(prediction, from: index))
        case let .l2Penalty(w, lambda, m):
            guard needsGradient[w] else { return }
            let weights = pointer(T.self, w, plan)
            let coefficient = g.pointee.doubleValue * lambda / Double(m)
            elementwise(gradientPointer(T.self, w, plan), plan.counts[w], accumulates(w, from: index)) { i in
                coefficient * weights[i].doubleValue
            }
        case let .dense(x, w, bias, activation, slope):
            denseBackward(T.self, index, x, w, bias, activation, slope, g, plan)
        case let .batchNorm(x, gamma, beta, _, epsilon):
            batchNormBackward(T.self, index, x, gamma, beta, epsilon, g, plan)
        case let .dropout(x, probability, _):
            guard needsGradient[x] else { return }
            let target = gradientPointer(T.self, x, plan), add = accumulates(x, from: index)
            if training && probability > 0 {
                let mask = plan.scratch[index]!.pointer(as: T.self)
                elementwise(target, count, add) { i in g[i].doubleValue * mask[i].doubleValue }
            } else {
                elementwise(target, count, add) { i in g[i].doubleValue }
            }
        }
    }

    /// target[i] (+)= value(i) for i in 0 ..< count.
    @inline(__always)
    func elementwise<T: DescentScalar>(_ target: UnsafeMutablePointer<T>, _ count: Int, _ accumulate: Bool,
                                       _ value: (Int) -> Double) {
        if accumulate {
            for i in 0..<count { target[i] = T(target[i].doubleValue + value(i)) }
        } else {
            for i in 0..<count { target[i] = T(value(i)) }
        }
    }

    /// Contribution of an operand with `operandCount` elements to an output of `outputCount`:
    /// equal counts go elementwise; a broadcast operand (repeating every `operandCount` outputs)
    /// receives the float64 sum over its repeats.
    @inline(__always)
    func contribute<T: DescentScalar>(_ target: UnsafeMutablePointer<T>, _ operandCount: Int, _ outputCount: Int,
                                      _ accumulate: Bool, _ plan: GraphPlan, _ value: (Int) -> Double) {
        if operandCount == outputCount {
            elementwise(target, outputCount, accumulate, value)
            return
        }
        let sums = plan.reduceScratch
        for j in 0..<operandCount { sums[j] = 0 }
        if operandCount > 0 {
            for start in stride(from: 0, to: outputCount, by: operandCount) {
                for j in 0..<operandCount { sums[j] += value(start + j) }
            }
        }
        elementwise(target, operandCount, accumulate) { j in sums[j] }
    }

    func activationBackward<T: DescentScalar>(_: T.Type, _ kind: Activation, _ slope: Double,
                                              _ input: UnsafeMutablePointer<T>, _ output: UnsafeMutablePointer<T>,
                                              _ g: UnsafeMutablePointer<T>, _ target: UnsafeMutablePointer<T>,
                                              _ count: Int, _ width: Int, accumulate: Bool) {
        switch kind {
        case .softmax:
            // dx = y ⊙ (g - Σ_j g_j y_j) per row, with y the node's own output.
            guard width > 0 else { return }
            for start in stride(from: 0, to: count, by: width) {
                var dot = 0.0
                for j in 0..<width { dot += g[start + j].doubleValue * output[start + j].doubleValue }
                for j in 0..<width {
                    let value = output[start + j].doubleValue * (g[start + j].doubleValue - dot)
                    target[start + j] = accumulate ? T(target[start + j].doubleValue + value) : T(value)
                }
            }
        case .relu where !accumulate:
            Kernels.reluBackward(input, g, target, count)
        case .identity:
            elementwise(target, count, accumulate) { i in g[i].doubleValue }
        default:
            elementwise(target, count, accumulate) { i in
                g[i].doubleValue * kind.scalarDerivative(input[i].doubleValue, slope)
            }
        }
    }

    func denseBackward<T: DescentScalar>(_: T.Type, _ index: Int, _ x: Int, _ w: Int, _ bias: Int?,
                                         _ activation: Activation, _ slope: Double, _ g: UnsafeMutablePointer<T>,
                                         _ plan: GraphPlan) {
        let shape = plan.shapes[index]
        let (batch, units) = (shape[0], shape[1])
        // dz = f'(z) ⊙ g (the activation's VJP); for identity dz is g itself.
        let dz: UnsafeMutablePointer<T>
        if activation == .identity {
            dz = g
        } else {
            dz = plan.scratch2[index]!.pointer(as: T.self)
            activationBackward(T.self, activation, slope, plan.scratch[index]!.pointer(as: T.self),
                               pointer(T.self, index, plan), g, dz, batch * units, units, accumulate: false)
        }
        if needsGradient[w] {  // dW = dzᵀ x
            gemm(T.self, shape, dz, true, plan.shapes[x], pointer(T.self, x, plan), false,
                 gradientPointer(T.self, w, plan), accumulate: accumulates(w, from: index))
        }
        if let bias, needsGradient[bias] {  // db = Σ_batch dz, in float64
            let sums = plan.reduceScratch
            for j in 0..<units { sums[j] = 0 }
            for row in 0..<batch {
                let values = dz + row * units
                for j in 0..<units { sums[j] += values[j].doubleValue }
            }
            elementwise(gradientPointer(T.self, bias, plan), units, accumulates(bias, from: index)) { j in sums[j] }
        }
        if needsGradient[x] {  // dx = dz W
            gemm(T.self, shape, dz, false, plan.shapes[w], pointer(T.self, w, plan), false,
                 gradientPointer(T.self, x, plan), accumulate: accumulates(x, from: index) || x == w)
        }
    }

    func batchNormBackward<T: DescentScalar>(_: T.Type, _ index: Int, _ x: Int, _ gamma: Int, _ beta: Int,
                                             _ epsilon: Double, _ g: UnsafeMutablePointer<T>, _ plan: GraphPlan) {
        let shape = plan.shapes[index]
        let (batch, features) = (shape[0], shape[1])
        let input = pointer(T.self, x, plan), scale = pointer(T.self, gamma, plan)
        let node = nodes[index]
        // Training: the batch statistics saved by the forward; evaluation: the running ones (then
        // the normalization is a fixed affine map and dx = g γ / sqrt(running_var + ε)).
        let means = training ? plan.scratch[index]!.pointer(as: T.self) : node.runningMean!.pointer(as: T.self)
        let inverse = plan.scratch2[index]!.pointer(as: T.self)
        if !training {
            let variance = node.runningVariance!.pointer(as: T.self)
            for j in 0..<features { inverse[j] = T(1 / (variance[j].doubleValue + epsilon).squareRoot()) }
        }
        let dx = needsGradient[x] ? gradientPointer(T.self, x, plan) : nil
        let dGamma = needsGradient[gamma] ? gradientPointer(T.self, gamma, plan) : nil
        let dBeta = needsGradient[beta] ? gradientPointer(T.self, beta, plan) : nil
        BatchNorm.backwardCore(T.self, input, scale, means, inverse, g, batch: batch, features: features,
                               usesBatchStatistics: training,
                               inputGradient: dx.map { ($0, accumulates(x, from: index)) },
                               gammaGradient: dGamma.map { ($0, accumulates(gamma, from: index) || gamma == x) },
                               betaGradient: dBeta.map { ($0, accumulates(beta, from: index) || beta == x || beta == gamma) })
    }
}
