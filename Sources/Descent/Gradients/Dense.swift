/// A fully connected layer over a batch. Layout: inputs `a` are (batch, in), weights `W` are
/// (out, in) — one row per output unit, as in z = W a for a single column sample — and the bias
/// `b` is (out,). For the batch (one sample per row):
/// ```
/// z  = a Wᵀ + b             (batch, out)
/// a' = f(z)                 f any `Activation` (softmax along the out axis)
/// ```
/// Backward, given dL/da' (batch, out):
/// ```
/// dz = f'(z) ⊙ dL/da'       (the activation's vector-Jacobian product)
/// dW = dzᵀ a                (out, in)
/// db = Σ_batch dz           (out,)
/// da = dz W                 (batch, in)
/// ```
/// Matrix products go through BLAS (`Tensor.matmul`). C counterparts: `descent_dense_forward`,
/// `descent_dense_backward`.
public enum Dense {
    /// Writes z and a' = f(z). `bias` may be nil (no bias). `output` may be `preActivation`
    /// itself; neither may share memory with `inputs`, `weights` or `bias`.
    public static func forward(inputs: Tensor, weights: Tensor, bias: Tensor?, activation: Activation,
                               negativeSlope: Double, preActivation: Tensor, output: Tensor) throws(DescentError) {
        let (batch, units) = try validate(inputs, weights, bias)
        try preActivation.requireDType(inputs.dtype, "pre-activation z")
        try preActivation.requireShape([batch, units], "pre-activation z")
        try preActivation.requireSameLayout(as: output, "output")
        var roles: [(Tensor, String)] = [(preActivation, "pre-activation z"), (inputs, "inputs"), (weights, "weights")]
        if let bias { roles.append((bias, "bias")) }
        try requireDistinctStorage(roles)
        if output.storage != preActivation.storage {
            roles[0] = (output, "output")
            try requireDistinctStorage(roles)
        }
        if activation == .leakyRelu { try requireFiniteScalar(negativeSlope, "leaky ReLU negative slope") }

        try Tensor.matmul(inputs, weights, transposeA: false, transposeB: true, alpha: 1, beta: 0, into: preActivation)
        if let bias {
            switch inputs.dtype {
            case .float32: addRowVector(Float.self, bias, to: preActivation)
            case .float64: addRowVector(Double.self, bias, to: preActivation)
            }
        }
        try activation.forward(preActivation, into: output, negativeSlope: negativeSlope)
    }

    /// Writes dW, db (if given) and da (if given). Outputs must be distinct from each other and
    /// from every input.
    public static func backward(inputs: Tensor, weights: Tensor, preActivation: Tensor, outputGradient: Tensor,
                                activation: Activation, negativeSlope: Double, weightGradient: Tensor,
                                biasGradient: Tensor?, inputGradient: Tensor?) throws(DescentError) {
        let (batch, units) = try validate(inputs, weights, nil)
        try preActivation.requireDType(inputs.dtype, "pre-activation z")
        try preActivation.requireShape([batch, units], "pre-activation z")
        try preActivation.requireSameLayout(as: outputGradient, "output gradient")
        try weights.requireSameLayout(as: weightGradient, "weight gradient")
        if let biasGradient {
            try biasGradient.requireDType(inputs.dtype, "bias gradient")
            try biasGradient.requireShape([units], "bias gradient")
        }
        if let inputGradient { try inputs.requireSameLayout(as: inputGradient, "input gradient") }
        var roles: [(Tensor, String)] = [(weightGradient, "weight gradient"), (inputs, "inputs"), (weights, "weights"),
                                         (preActivation, "pre-activation z"), (outputGradient, "output gradient")]
        if let biasGradient { roles.append((biasGradient, "bias gradient")) }
        if let inputGradient { roles.append((inputGradient, "input gradient")) }
        try requireDistinctStorage(roles)
        if activation == .leakyRelu { try requireFiniteScalar(negativeSlope, "leaky ReLU negative slope") }

        let dz = try Tensor.zeros(dtype: inputs.dtype, shape: [batch, units])
        try activation.backward(preActivation, outputGradient: outputGradient, into: dz, negativeSlope: negativeSlope)
        try Tensor.matmul(dz, inputs, transposeA: true, transposeB: false, alpha: 1, beta: 0, into: weightGradient)
        if let biasGradient {
            switch inputs.dtype {
            case .float32: columnSums(Float.self, dz, into: biasGradient)
            case .float64: columnSums(Double.self, dz, into: biasGradient)
            }
        }
        if let inputGradient {
            try Tensor.matmul(dz, weights, transposeA: false, transposeB: false, alpha: 1, beta: 0, into: inputGradient)
        }
    }

    private static func validate(_ inputs: Tensor, _ weights: Tensor, _ bias: Tensor?) throws(DescentError) -> (Int, Int) {
        let (batch, features) = try inputs.requireMatrix("inputs")
        let (units, weightFeatures) = try weights.requireMatrix("weights")
        try weights.requireDType(inputs.dtype, "weights")
        guard features == weightFeatures else {
            throw .shape("inputs have \(features) features but weights (out, in) are \(units)x\(weightFeatures)")
        }
        if let bias {
            try bias.requireDType(inputs.dtype, "bias")
            try bias.requireShape([units], "bias")
        }
        return (batch, units)
    }

    private static func addRowVector<T: DescentScalar>(_: T.Type, _ bias: Tensor, to matrix: Tensor) {
        let b = bias.buffer(as: T.self), z = matrix.buffer(as: T.self)
        let width = bias.count
        guard width > 0 else { return }
        for start in stride(from: 0, to: matrix.count, by: width) {
            for j in 0..<width { z[start + j] += b[j] }
        }
    }

    private static func columnSums<T: DescentScalar>(_: T.Type, _ matrix: Tensor, into out: Tensor) {
        let m = matrix.buffer(as: T.self), o = out.buffer(as: T.self)
        let width = out.count
        guard width > 0 else { return }
        var sums: [Double] = Array(repeating: 0, count: width)
        for start in stride(from: 0, to: matrix.count, by: width) {
            for j in 0..<width { sums[j] += m[start + j].doubleValue }
        }
        for j in 0..<width { o[j] = T(sums[j]) }
    }
}
