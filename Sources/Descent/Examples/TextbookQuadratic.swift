/// A first gradient-descent example (Nielsen's NNDL, chapter 1: `w → w − η ∂C/∂w`): minimize `J(W) = 0.1 (W - 5)^2`, whose gradient is
/// `dJ/dW = 0.2 (W - 5)` (equal to 1 at the starting point `W = 10`), by repeated
/// `W := W - learning_rate * dJ/dW`. Each step multiplies the distance to the minimum 5 by
/// `1 - 0.2 * learning_rate`.
public enum TextbookQuadratic {
    /// `J(W) = 0.1 (W - 5)^2`.
    public static func cost(_ w: Double) -> Double { 0.1 * (w - 5) * (w - 5) }
    /// `dJ/dW = 0.2 (W - 5)`.
    public static func gradient(_ w: Double) -> Double { 0.2 * (w - 5) }
}
