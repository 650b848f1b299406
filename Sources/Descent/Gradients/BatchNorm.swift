#if canImport(Glibc)
import Glibc
#endif

/// Batch normalization over the batch axis of x (batch N, features D), PyTorch's convention.
///
/// Training forward, per feature j:
/// ```
/// μ_j = (1/N) Σ_i x_ij                 σ²_j = (1/N) Σ_i (x_ij - μ_j)²   (biased, used to normalize)
/// x̂_ij = (x_ij - μ_j) / sqrt(σ²_j + ε)   y_ij = γ_j x̂_ij + β_j
/// running_mean = (1 - m) running_mean + m μ
/// running_var  = (1 - m) running_var  + m σ²·N/(N-1)                    (UNBIASED batch variance)
/// ```
/// (momentum m = 0.1 and ε = 1e-5 are PyTorch's defaults). The forward saves μ and
/// 1/sqrt(σ² + ε) for the backward:
/// ```
/// dβ = Σ_i dy_i     dγ = Σ_i dy_i x̂_i     dx_i = γ/(N sqrt(σ²+ε)) · (N dy_i - dβ - x̂_i dγ)
/// ```
/// Inference: y = γ (x - running_mean) / sqrt(running_var + ε) + β.
/// Stateless: the caller owns γ, β, the running statistics and the saved statistics.
/// C counterparts: `descent_batchnorm_forward_train`, `_backward`, `_forward_infer`.
public enum BatchNorm {
    /// Training forward over `x` (batch, features): normalizes with the batch mean and biased variance,
    /// writes `y = gamma x̂ + beta`, the saved mean and inverse standard deviation for `backward`, and
    /// updates the running statistics in place (`running = (1 - momentum) running + momentum batch`,
    /// unbiased variance), as PyTorch's BatchNorm1d (Ioffe & Szegedy 2015).
    public static func forwardTraining(input x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor,
                                       runningVariance: Tensor, momentum: Double, epsilon: Double,
                                       output y: Tensor, savedMean: Tensor, savedInverseStd: Tensor) throws(DescentError) {
        let (batch, features) = try x.requireMatrix("input")
        guard batch >= 2 else {
            throw .argument("training batch normalization needs at least 2 samples per feature (got \(batch)); the unbiased variance is undefined")
        }
        try requireVectors(x.dtype, features, [(gamma, "gamma"), (beta, "beta"), (runningMean, "running mean"),
                                              (runningVariance, "running variance"), (savedMean, "saved mean"),
                                              (savedInverseStd, "saved inverse std")])
        try x.requireSameLayout(as: y, "output")
        try requireDistinctStorage([(runningMean, "running mean"), (runningVariance, "running variance"),
                                    (savedMean, "saved mean"), (savedInverseStd, "saved inverse std"),
                                    (gamma, "gamma"), (beta, "beta"), (x, "input")])
        guard momentum.isFinite, momentum >= 0, momentum <= 1 else {
            throw .argument("momentum must lie in [0, 1], got \(momentum)")
        }
        guard epsilon.isFinite, epsilon > 0 else { throw .argument("epsilon must be finite and > 0, got \(epsilon)") }
        try x.requireFinite("input")
        switch x.dtype {
        case .float32: train(Float.self, x, gamma, beta, runningMean, runningVariance, momentum, epsilon, y, savedMean, savedInverseStd)
        case .float64: train(Double.self, x, gamma, beta, runningMean, runningVariance, momentum, epsilon, y, savedMean, savedInverseStd)
        }
    }

    /// Backward of `forwardTraining`: `dbeta = Σ dy`, `dgamma = Σ dy x̂`,
    /// `dx = gamma invstd / N (N dy - dbeta - x̂ dgamma)`.
    public static func backward(input x: Tensor, gamma: Tensor, savedMean: Tensor, savedInverseStd: Tensor,
                                outputGradient dy: Tensor, inputGradient dx: Tensor, gammaGradient: Tensor,
                                betaGradient: Tensor) throws(DescentError) {
        let (_, features) = try x.requireMatrix("input")
        try requireVectors(x.dtype, features, [(gamma, "gamma"), (savedMean, "saved mean"),
                                              (savedInverseStd, "saved inverse std"), (gammaGradient, "gamma gradient"),
                                              (betaGradient, "beta gradient")])
        try x.requireSameLayout(as: dy, "output gradient")
        try x.requireSameLayout(as: dx, "input gradient")
        try requireDistinctStorage([(dx, "input gradient"), (gammaGradient, "gamma gradient"), (betaGradient, "beta gradient"),
                                    (gamma, "gamma"), (savedMean, "saved mean"), (savedInverseStd, "saved inverse std")])
        try requireDistinctStorage([(dx, "input gradient"), (x, "input")])
        switch x.dtype {
        case .float32: backwardKernel(Float.self, x, gamma, savedMean, savedInverseStd, dy, dx, gammaGradient, betaGradient)
        case .float64: backwardKernel(Double.self, x, gamma, savedMean, savedInverseStd, dy, dx, gammaGradient, betaGradient)
        }
    }

    /// Inference forward: `y = gamma (x - runningMean) / sqrt(runningVar + eps) + beta`.
    public static func forwardInference(input x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor,
                                        runningVariance: Tensor, epsilon: Double, output y: Tensor) throws(DescentError) {
        let (_, features) = try x.requireMatrix("input")
        try requireVectors(x.dtype, features, [(gamma, "gamma"), (beta, "beta"), (runningMean, "running mean"),
                                              (runningVariance, "running variance")])
        try x.requireSameLayout(as: y, "output")
        guard epsilon.isFinite, epsilon > 0 else { throw .argument("epsilon must be finite and > 0, got \(epsilon)") }
        for j in 0..<features where !(runningVariance.value(at: j) >= 0) {
            throw .argument("running variance must be >= 0; feature \(j) holds \(runningVariance.value(at: j))")
        }
        switch x.dtype {
        case .float32: infer(Float.self, x, gamma, beta, runningMean, runningVariance, epsilon, y)
        case .float64: infer(Double.self, x, gamma, beta, runningMean, runningVariance, epsilon, y)
        }
    }

    private static func requireVectors(_ dtype: DType, _ features: Int, _ vectors: [(Tensor, String)]) throws(DescentError) {
        for (vector, role) in vectors {
            try vector.requireDType(dtype, role)
            try vector.requireShape([features], role)
        }
    }

    static func train<T: DescentScalar>(_: T.Type, _ x: Tensor, _ gamma: Tensor, _ beta: Tensor, _ runningMean: Tensor,
                                                _ runningVariance: Tensor, _ momentum: Double, _ epsilon: Double, _ y: Tensor,
                                                _ savedMean: Tensor, _ savedInverseStd: Tensor) {
        let input = x.buffer(as: T.self), output = y.buffer(as: T.self)
        let g = gamma.buffer(as: T.self), b = beta.buffer(as: T.self)
        let rm = runningMean.buffer(as: T.self), rv = runningVariance.buffer(as: T.self)
        let sm = savedMean.buffer(as: T.self), si = savedInverseStd.buffer(as: T.self)
        let (batch, features) = (x.shape[0], x.shape[1])
        for j in 0..<features {
            var sum = 0.0
            for i in 0..<batch { sum += input[i * features + j].doubleValue }
            let mean = sum / Double(batch)
            var squares = 0.0
            for i in 0..<batch {
                let d = input[i * features + j].doubleValue - mean
                squares += d * d
            }
            let variance = squares / Double(batch)
            let inverseStd = 1 / (variance + epsilon).squareRoot()
            let scale = g[j].doubleValue, shift = b[j].doubleValue
            for i in 0..<batch {
                let index = i * features + j
                output[index] = T(scale * (input[index].doubleValue - mean) * inverseStd + shift)
            }
            rm[j] = T((1 - momentum) * rm[j].doubleValue + momentum * mean)
            rv[j] = T((1 - momentum) * rv[j].doubleValue + momentum * squares / Double(batch - 1))
            sm[j] = T(mean)
            si[j] = T(inverseStd)
        }
    }

    private static func backwardKernel<T: DescentScalar>(_: T.Type, _ x: Tensor, _ gamma: Tensor, _ savedMean: Tensor,
                                                         _ savedInverseStd: Tensor, _ dy: Tensor, _ dx: Tensor,
                                                         _ gammaGradient: Tensor, _ betaGradient: Tensor) {
        backwardCore(T.self, x.pointer(as: T.self), gamma.pointer(as: T.self), savedMean.pointer(as: T.self),
                     savedInverseStd.pointer(as: T.self), dy.pointer(as: T.self), batch: x.shape[0],
                     features: x.shape[1], usesBatchStatistics: true,
                     inputGradient: (dx.pointer(as: T.self), false),
                     gammaGradient: (gammaGradient.pointer(as: T.self), false),
                     betaGradient: (betaGradient.pointer(as: T.self), false))
    }

    /// The backward pass on raw buffers; each output is optional and either written or added to
    /// (`accumulate`). With `usesBatchStatistics` false (evaluation mode: μ and 1/σ are the
    /// running statistics, constants) dx = γ/σ · dy instead of the batch-statistics formula.
    static func backwardCore<T: DescentScalar>(_: T.Type, _ input: UnsafeMutablePointer<T>, _ g: UnsafeMutablePointer<T>,
                                               _ sm: UnsafeMutablePointer<T>, _ si: UnsafeMutablePointer<T>,
                                               _ upstream: UnsafeMutablePointer<T>, batch: Int, features: Int,
                                               usesBatchStatistics: Bool,
                                               inputGradient: (UnsafeMutablePointer<T>, accumulate: Bool)?,
                                               gammaGradient: (UnsafeMutablePointer<T>, accumulate: Bool)?,
                                               betaGradient: (UnsafeMutablePointer<T>, accumulate: Bool)?) {
        @inline(__always) func store(_ target: (UnsafeMutablePointer<T>, accumulate: Bool)?, _ index: Int, _ value: Double) {
            guard let (pointer, accumulate) = target else { return }
            pointer[index] = accumulate ? T(pointer[index].doubleValue + value) : T(value)
        }
        for j in 0..<features {
            let mean = sm[j].doubleValue, inverseStd = si[j].doubleValue
            var sumDy = 0.0, sumDyXhat = 0.0
            for i in 0..<batch {
                let index = i * features + j
                let dyValue = upstream[index].doubleValue
                sumDy += dyValue
                sumDyXhat += dyValue * (input[index].doubleValue - mean) * inverseStd
            }
            if inputGradient != nil {
                if usesBatchStatistics {
                    let coefficient = g[j].doubleValue * inverseStd / Double(max(batch, 1))
                    for i in 0..<batch {
                        let index = i * features + j
                        let xhat = (input[index].doubleValue - mean) * inverseStd
                        store(inputGradient, index, coefficient * (Double(batch) * upstream[index].doubleValue - sumDy - xhat * sumDyXhat))
                    }
                } else {
                    let coefficient = g[j].doubleValue * inverseStd
                    for i in 0..<batch {
                        let index = i * features + j
                        store(inputGradient, index, coefficient * upstream[index].doubleValue)
                    }
                }
            }
            store(gammaGradient, j, sumDyXhat)
            store(betaGradient, j, sumDy)
        }
    }

    static func infer<T: DescentScalar>(_: T.Type, _ x: Tensor, _ gamma: Tensor, _ beta: Tensor, _ runningMean: Tensor,
                                                _ runningVariance: Tensor, _ epsilon: Double, _ y: Tensor) {
        let input = x.buffer(as: T.self), output = y.buffer(as: T.self)
        let g = gamma.buffer(as: T.self), b = beta.buffer(as: T.self)
        let rm = runningMean.buffer(as: T.self), rv = runningVariance.buffer(as: T.self)
        let (batch, features) = (x.shape[0], x.shape[1])
        for j in 0..<features {
            let inverseStd = 1 / (rv[j].doubleValue + epsilon).squareRoot()
            let mean = rm[j].doubleValue, scale = g[j].doubleValue, shift = b[j].doubleValue
            for i in 0..<batch {
                let index = i * features + j
                output[index] = T(scale * (input[index].doubleValue - mean) * inverseStd + shift)
            }
        }
    }
}
