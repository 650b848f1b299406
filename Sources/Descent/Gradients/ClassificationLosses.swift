/// Multiclass losses over a (batch, classes) score matrix and integer labels in [0, classes).
///
/// Softmax cross-entropy from logits z (stable for any finite logit: the row max is subtracted):
///     L_i = log Σ_j e^{z_ij} - z_{i,y_i}          dL_i/dz_ij = softmax(z_i)_j - [j == y_i]
/// Multiclass SVM (hinge) loss with margin Δ on scores s:
///     L_i = Σ_{j≠y_i} max(0, s_ij - s_{i,y_i} + Δ)
///     dL_i/ds_ij = [s_ij - s_{i,y_i} + Δ > 0] for j ≠ y_i,   dL_i/ds_{i,y_i} = -Σ_{j≠y_i} [margin_j > 0]
/// (at a margin of exactly 0 the subgradient 0 is used.)
/// Reduction `.mean` divides the summed loss and the gradient by the batch size.
/// C counterparts: `descent_loss_softmax_cross_entropy`, `descent_loss_multiclass_hinge`,
/// `descent_loss_multiclass_hinge_linear`.
public enum ClassificationLoss {
    /// Softmax cross-entropy of (batch, classes) logits against integer labels,
    /// `L_i = logsumexp(z_i) - z_{i,y_i}` (stable), mean or sum over the batch; writes
    /// `softmax(z_i) - onehot(y_i)` (scaled by the reduction) into `gradient` when given ([cs231n]).
    public static func softmaxCrossEntropy(logits: Tensor, labels: [Int], reduction: Reduction,
                                           gradient: Tensor?) throws(DescentError) -> Double {
        let (batch, classes) = try validate(logits, labels, gradient, "logits")
        switch logits.dtype {
        case .float32: return crossEntropy(Float.self, logits, labels, batch, classes, reduction, gradient)
        case .float64: return crossEntropy(Double.self, logits, labels, batch, classes, reduction, gradient)
        }
    }

    /// Multiclass SVM loss `L_i = Σ_{j≠y_i} max(0, s_j - s_{y_i} + margin)` of (batch, classes) scores,
    /// mean or sum; writes its subgradient into `gradient` when given ([cs231n], "Linear classification").
    public static func multiclassHinge(scores: Tensor, labels: [Int], margin: Double, reduction: Reduction,
                                       gradient: Tensor?) throws(DescentError) -> Double {
        let (batch, classes) = try validate(scores, labels, gradient, "scores")
        try requireFiniteScalar(margin, "margin")
        switch scores.dtype {
        case .float32: return hinge(Float.self, scores, labels, batch, classes, margin, reduction, gradient)
        case .float64: return hinge(Double.self, scores, labels, batch, classes, margin, reduction, gradient)
        }
    }

    /// The linear classifier form: scores s = X Wᵀ for inputs X (batch, features) and weights W
    /// (classes, features), hinge loss on s, and dL/dW = (dL/ds)ᵀ X. `weightGradient` has W's shape
    /// and must not share memory with W or X.
    public static func multiclassHingeLinear(weights: Tensor, inputs: Tensor, labels: [Int], margin: Double,
                                             reduction: Reduction, weightGradient: Tensor?) throws(DescentError) -> Double {
        let (classes, features) = try weights.requireMatrix("weights")
        let (batch, inputFeatures) = try inputs.requireMatrix("inputs")
        try weights.requireDType(inputs.dtype, "weights")
        guard features == inputFeatures else {
            throw .shape("inputs have \(inputFeatures) features, weights expect \(features)")
        }
        if let weightGradient {
            try weights.requireSameLayout(as: weightGradient, "weight gradient")
            try requireDistinctStorage([(weightGradient, "weight gradient"), (weights, "weights"), (inputs, "inputs")])
        }
        let scores = try Tensor.zeros(dtype: weights.dtype, shape: [batch, classes])
        try Tensor.matmul(inputs, weights, transposeA: false, transposeB: true, alpha: 1, beta: 0, into: scores)
        let scoreGradient = try Tensor.zeros(dtype: weights.dtype, shape: [batch, classes])
        let loss = try multiclassHinge(scores: scores, labels: labels, margin: margin, reduction: reduction,
                                       gradient: scoreGradient)
        if let weightGradient {
            try Tensor.matmul(scoreGradient, inputs, transposeA: true, transposeB: false, alpha: 1, beta: 0,
                              into: weightGradient)
        }
        return loss
    }

    static func validate(_ scores: Tensor, _ labels: [Int], _ gradient: Tensor?,
                         _ role: String) throws(DescentError) -> (Int, Int) {
        let (batch, classes) = try scores.requireMatrix(role)
        if let gradient { try scores.requireSameLayout(as: gradient, "gradient") }
        guard labels.count == batch else {
            throw .shape("\(labels.count) labels for a batch of \(batch)")
        }
        for (i, label) in labels.enumerated() where label < 0 || label >= classes {
            throw .argument("label \(label) at index \(i) is outside [0, \(classes))")
        }
        try scores.requireFinite(role)
        return (batch, classes)
    }

    private static func crossEntropy<T: DescentScalar>(_: T.Type, _ logits: Tensor, _ labels: [Int], _ batch: Int,
                                                       _ classes: Int, _ reduction: Reduction, _ gradient: Tensor?) -> Double {
        let z = logits.buffer(as: T.self)
        let g = gradient?.buffer(as: T.self)
        let scale = reduction == .mean && batch > 0 ? 1 / Double(batch) : 1
        // An empty batch may still have a huge class count: never size the row buffer by it.
        var row: [Double] = Array(repeating: 0, count: batch > 0 ? classes : 0)
        var total = 0.0
        for i in 0..<batch {
            let start = i * classes
            var largest = -Double.infinity
            for j in 0..<classes { largest = max(largest, z[start + j].doubleValue) }
            var sum = 0.0
            for j in 0..<classes {
                row[j] = GradientMath.exponential(z[start + j].doubleValue - largest)
                sum += row[j]
            }
            total += GradientMath.naturalLog(sum) + largest - z[start + labels[i]].doubleValue
            if let g {
                for j in 0..<classes {
                    g[start + j] = T(scale * (row[j] / sum - (j == labels[i] ? 1 : 0)))
                }
            }
        }
        return scale * total
    }

    private static func hinge<T: DescentScalar>(_: T.Type, _ scores: Tensor, _ labels: [Int], _ batch: Int,
                                                _ classes: Int, _ margin: Double, _ reduction: Reduction,
                                                _ gradient: Tensor?) -> Double {
        let s = scores.buffer(as: T.self)
        let g = gradient?.buffer(as: T.self)
        let scale = reduction == .mean && batch > 0 ? 1 / Double(batch) : 1
        // An empty batch may still have a huge class count: never size the row buffer by it.
        var row: [Double] = Array(repeating: 0, count: batch > 0 ? classes : 0)
        var total = 0.0
        for i in 0..<batch {
            let start = i * classes, label = labels[i]
            let correct = s[start + label].doubleValue
            var active = 0.0
            for j in 0..<classes {
                row[j] = 0
                guard j != label else { continue }
                let violation = s[start + j].doubleValue - correct + margin
                if violation > 0 {
                    total += violation
                    row[j] = 1
                    active += 1
                }
            }
            row[label] = -active
            if let g { for j in 0..<classes { g[start + j] = T(scale * row[j]) } }
        }
        return scale * total
    }
}

/// L2 regularization: R(W) = λ/(2m) ‖W‖² with gradient (λ/m) W.
/// With m = 1 this is the common ½λ‖W‖² (gradient λW); with m the batch or training-set size it
/// is the form of Nielsen's NNDL (chapter 3) and the deeplearning.ai notes, whose gradient step is
/// W -= η(λ/m)W. λ ≥ 0 finite, m ≥ 1.
/// C counterpart: `descent_l2_penalty`.
public enum L2Penalty {
    /// The penalty `λ/(2m) ‖W‖²`; writes `(λ/m) W` into `gradient` when given.
    public static func compute(weights: Tensor, lambda: Double, m: Int,
                               gradient: Tensor?) throws(DescentError) -> Double {
        guard lambda.isFinite, lambda >= 0 else { throw .argument("lambda must be finite and >= 0, got \(lambda)") }
        guard m >= 1 else { throw .argument("m must be >= 1, got \(m)") }
        if let gradient { try weights.requireSameLayout(as: gradient, "gradient") }
        try weights.requireFinite("weights")
        let coefficient = lambda / Double(m)
        let squares = try weights.dot(weights)
        if let gradient {
            if gradient !== weights {
                gradient.storage.copyMemory(from: weights.storage, byteCount: weights.byteCount)
            }
            try gradient.scale(by: coefficient)
        }
        return 0.5 * coefficient * squares
    }
}
