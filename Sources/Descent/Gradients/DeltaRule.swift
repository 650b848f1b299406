/// The delta rule for a single sigmoid unit and one sample:
/// ```
/// h  = Σ_i w_i x_i
/// ŷ  = f(h) = σ(h)
/// δ  = (y - ŷ) f'(h)          f'(h) = σ(h)(1 - σ(h))
/// Δw = η δ x
/// ```
/// C counterpart: `descent_delta_rule`.
public struct DeltaRuleResult: Sendable, Equatable {
    /// The activation `h = Σ w_i x_i`.
    public let h: Double
    /// The prediction `ŷ = σ(h)`.
    public let prediction: Double
    /// `δ = (y - ŷ) σ'(h)`.
    public let delta: Double
}

/// The delta rule for one sigmoid unit (Widrow & Hoff 1960; Rumelhart, Hinton & Williams 1986).
public enum DeltaRule {
    /// Computes h, ŷ, δ and writes Δw (x's shape) into `weightStep`. `weights` and `inputs` are
    /// rank-1 of one dtype and length; y and η finite. `weightStep` may be `weights` or `inputs`.
    public static func step(weights: Tensor, inputs: Tensor, target: Double, learningRate: Double,
                            weightStep: Tensor) throws(DescentError) -> DeltaRuleResult {
        guard weights.rank == 1 else {
            throw .shape("weights must be rank 1, got shape \(Shape.describe(weights.shape))")
        }
        try weights.requireSameLayout(as: inputs, "inputs")
        try weights.requireSameLayout(as: weightStep, "weight step")
        try requireFiniteScalar(target, "target")
        try requireFiniteScalar(learningRate, "learning rate")
        try weights.requireFinite("weights")
        try inputs.requireFinite("inputs")
        let h = try weights.dot(inputs)
        let prediction = GradientMath.sigmoid(h)
        let delta = (target - prediction) * prediction * (1 - prediction)
        let coefficient = learningRate * delta
        for i in 0..<inputs.count {
            weightStep.setValue(coefficient * inputs.value(at: i), at: i)
        }
        return DeltaRuleResult(h: h, prediction: prediction, delta: delta)
    }
}
