/// Vanilla gradient descent, the update the whole library is built around:
/// ```
/// W := W - learning_rate * dJ/dW
/// ```
/// C counterpart: `descent_gd_step`.
public enum GradientDescent {
    /// Applies one step to `parameter` in place. `gradient` has the parameter's dtype and shape;
    /// `learningRate` is finite and non-negative. On error nothing is modified.
    public static func step(_ parameter: Tensor, gradient: Tensor, learningRate: Double) throws(DescentError) {
        try parameter.requireSameLayout(as: gradient, "gradient")
        guard learningRate.isFinite, learningRate >= 0 else {
            throw .argument("learning rate must be finite and non-negative, got \(learningRate)")
        }
        guard parameter !== gradient else {
            throw .argument("gradient must be a different tensor from the parameter")
        }
        try parameter.axpy(-learningRate, gradient)
    }
}
