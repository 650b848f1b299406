/// Elementwise regression and binary-classification costs with their gradients with respect to
/// the prediction. Each returns the loss (accumulated in double) and, when `gradient` is given,
/// writes dLoss/dPrediction into it (same dtype and shape; it may be the prediction or target
/// tensor itself). Inputs must be finite. On error nothing is written.
///
/// | cost                     | loss                                              | gradient              |
/// |--------------------------|---------------------------------------------------|-----------------------|
/// | sumOfSquares (SSE)       | E = ½ Σ (y - ŷ)² over every element              | ŷ - y                 |
/// | quadratic                | C = 1/(2n) Σ_x ‖y(x) - a(x)‖², n = shape[0]      | (a - y) / n           |
/// | meanSquared (MSE)        | (1/N) Σ (ŷ - y)², N = element count              | 2 (ŷ - y) / N         |
/// | binaryCrossEntropy       | -[y log p + (1-y) log(1-p)], p clamped to [ε,1-ε] | (p - y) / (p (1 - p)) |
/// | binaryCrossEntropyLogits | max(z,0) - z y + log(1 + e^{-|z|})                | σ(z) - y              |
///
/// The two cross-entropies are reduced with `Reduction` over all elements (mean divides by N).
/// C counterparts: `descent_loss_sse`, `_quadratic`, `_mse`, `_bce`, `_bce_logits`.
public enum Loss {
    /// Sum of squared errors `½ Σ (y - ŷ)²`; writes `ŷ - y` into `gradient` when given.
    public static func sumOfSquares(prediction: Tensor, target: Tensor,
                                    gradient: Tensor?) throws(DescentError) -> Double {
        try elementwise(prediction, target, gradient, scale: 1) { p, y in
            let r = p - y
            return (0.5 * r * r, r)
        }
    }

    /// n is the batch size `shape[0]` (1 for a rank-0 prediction); each sample is a row.
    public static func quadratic(prediction: Tensor, target: Tensor,
                                 gradient: Tensor?) throws(DescentError) -> Double {
        let n = prediction.rank == 0 ? 1 : prediction.shape[0]
        return try elementwise(prediction, target, gradient, scale: n == 0 ? 1 : 1 / Double(n)) { p, y in
            let r = p - y
            return (0.5 * r * r, r)
        }
    }

    /// Mean squared error `(1/N) Σ (ŷ - y)²`; writes `2 (ŷ - y) / N` into `gradient` when given.
    public static func meanSquared(prediction: Tensor, target: Tensor,
                                   gradient: Tensor?) throws(DescentError) -> Double {
        let n = prediction.count
        return try elementwise(prediction, target, gradient, scale: n == 0 ? 1 : 1 / Double(n)) { p, y in
            let r = p - y
            return (r * r, 2 * r)
        }
    }

    /// Probabilities must lie in [0, 1] and targets in [0, 1]; p is clamped to [ε, 1 - ε]
    /// (0 < ε < 0.5) before the logs and in the gradient.
    public static func binaryCrossEntropy(probabilities: Tensor, target: Tensor, epsilon: Double,
                                          reduction: Reduction, gradient: Tensor?) throws(DescentError) -> Double {
        guard epsilon.isFinite, epsilon > 0, epsilon < 0.5 else {
            throw .argument("epsilon must lie in (0, 0.5), got \(epsilon)")
        }
        try requireUnitInterval(probabilities, "probabilities")
        try requireUnitInterval(target, "target")
        return try elementwise(probabilities, target, gradient, scale: meanScale(probabilities, reduction)) { p, y in
            let clamped = min(max(p, epsilon), 1 - epsilon)
            let loss = -(y * GradientMath.naturalLog(clamped) + (1 - y) * GradientMath.naturalLog(1 - clamped))
            return (loss, (clamped - y) / (clamped * (1 - clamped)))
        }
    }

    /// Stable for any finite logit; targets must lie in [0, 1].
    public static func binaryCrossEntropyWithLogits(logits: Tensor, target: Tensor, reduction: Reduction,
                                                    gradient: Tensor?) throws(DescentError) -> Double {
        try requireUnitInterval(target, "target")
        return try elementwise(logits, target, gradient, scale: meanScale(logits, reduction)) { z, y in
            // σ(z) - y written as (1 - y) σ(z) - y σ(-z): no cancellation to 0 when σ(z) rounds to 1.
            (GradientMath.softplus(z) - z * y, (1 - y) * GradientMath.sigmoid(z) - y * GradientMath.sigmoid(-z))
        }
    }

    static func meanScale(_ x: Tensor, _ reduction: Reduction) -> Double {
        reduction == .mean && x.count > 0 ? 1 / Double(x.count) : 1
    }

    static func requireUnitInterval(_ x: Tensor, _ role: String) throws(DescentError) {
        try x.requireFinite(role)
        for i in 0..<x.count {
            let v = x.value(at: i)
            guard v >= 0, v <= 1 else {
                throw .argument("\(role) must lie in [0, 1]; flat index \(i) holds \(v)")
            }
        }
    }

    /// Shared driver: validates, then `loss = scale * Σ term.loss`, `gradient = scale * term.grad`.
    static func elementwise(_ prediction: Tensor, _ target: Tensor, _ gradient: Tensor?, scale: Double,
                            _ term: (Double, Double) -> (loss: Double, grad: Double)) throws(DescentError) -> Double {
        try prediction.requireSameLayout(as: target, "target")
        if let gradient { try prediction.requireSameLayout(as: gradient, "gradient") }
        try prediction.requireFinite("prediction")
        try target.requireFinite("target")
        switch prediction.dtype {
        case .float32: return run(Float.self, prediction, target, gradient, scale, term)
        case .float64: return run(Double.self, prediction, target, gradient, scale, term)
        }
    }

    private static func run<T: DescentScalar>(_: T.Type, _ prediction: Tensor, _ target: Tensor, _ gradient: Tensor?,
                                              _ scale: Double,
                                              _ term: (Double, Double) -> (loss: Double, grad: Double)) -> Double {
        let p = prediction.buffer(as: T.self), y = target.buffer(as: T.self)
        let g = gradient?.buffer(as: T.self)
        var total = 0.0
        for i in 0..<prediction.count {
            let (loss, grad) = term(p[i].doubleValue, y[i].doubleValue)
            total += loss
            if let g { g[i] = T(scale * grad) }
        }
        return scale * total
    }
}
