// The Adam family: Adam/AdamW, Adamax, NAdam, RAdam. The gradient is prepared as in
// Kernels+SGD.swift (maximize, L2 or decoupled weight decay). Bias corrections and every other
// per-step scalar are computed in double precision by StepPlan (t starts at 1).

extension StepPlan {
    /// Adam (PyTorch `torch.optim.Adam`; C `descent_adam_step`) and AdamW (`descent_adamw_step`,
    /// the same with decoupled weight decay `W := W (1 - lr λ)`):
    /// ```
    /// m := β1 m + (1 - β1) g
    /// v := β2 v + (1 - β2) g²
    /// AMSGrad:  v̂ := max(v̂, v), and v̂ replaces v below
    /// c1 := 1 - β1^t,  c2 := 1 - β2^t       (both 1 without bias correction)
    /// W := W - (lr / c1) m / (sqrt(v) / sqrt(c2) + ε)       or  / sqrt(v / c2 + ε)  (eps inside)
    /// ```
    @inline(__always)
    func adamKernel<T: DescentScalar>(_ p: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>,
                                      _ m: UnsafeMutablePointer<T>, _ v: UnsafeMutablePointer<T>,
                                      _ vMax: UnsafeMutablePointer<T>?, _ range: Range<Int>) {
        let amsgrad = flags.contains(.amsgrad) ? vMax : nil
        let inside = flags.contains(.epsilonInsideSqrt), useL2 = l2 != 0
        // Constant arguments to an always-inlined loop give one specialised loop per case.
        switch (amsgrad, inside, useL2) {
        case (nil, false, false): adamLoop(p, g, m, v, nil, false, false, range)
        case (nil, false, true): adamLoop(p, g, m, v, nil, false, true, range)
        case (nil, true, _): adamLoop(p, g, m, v, nil, true, useL2, range)
        case (let maximum?, false, false): adamLoop(p, g, m, v, maximum, false, false, range)
        case (let maximum?, _, _): adamLoop(p, g, m, v, maximum, inside, useL2, range)
        }
    }

    @inline(__always)
    private func adamLoop<T: DescentScalar>(_ p: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>,
                                            _ m: UnsafeMutablePointer<T>, _ v: UnsafeMutablePointer<T>,
                                            _ vMax: UnsafeMutablePointer<T>?, _ inside: Bool, _ useL2: Bool,
                                            _ range: Range<Int>) {
        let sign = T(gradientSign), lambda = T(l2), decay = T(self.decay)
        let b1 = T(beta1), c1 = T(oneMinusBeta1), b2 = T(beta2), c2 = T(oneMinusBeta2)
        let step = T(stepSize), scale = T(scale2), eps = T(epsilon)
        for i in range {
            let w = p[i]  // loaded unconditionally: a conditional load would block vectorization
            var gi = g[i] * sign
            if useL2 { gi += lambda * w }
            let first = b1 * m[i] + c1 * gi
            var second = b2 * v[i] + c2 * gi * gi
            m[i] = first
            v[i] = second
            if let vMax {
                second = Swift.max(vMax[i], second)
                vMax[i] = second
            }
            let denominator = inside ? (second * scale + eps).kernelSquareRoot : second.kernelSquareRoot * scale + eps
            p[i] = w * decay - step * first / denominator
        }
    }

    /// Adamax (PyTorch `torch.optim.Adamax`; C `descent_adamax_step`):
    /// ```
    /// m := β1 m + (1 - β1) g
    /// u := max(β2 u, |g| + ε)
    /// W := W - (lr / (1 - β1^t)) m / u         (lr m / u without bias correction)
    /// ```
    @inline(__always)
    func adamaxKernel<T: DescentScalar>(_ p: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>,
                                        _ m: UnsafeMutablePointer<T>, _ u: UnsafeMutablePointer<T>,
                                        _ range: Range<Int>) {
        let sign = T(gradientSign), lambda = T(l2), decay = T(self.decay)
        let b1 = T(beta1), c1 = T(oneMinusBeta1), b2 = T(beta2), eps = T(epsilon), step = T(stepSize)
        let useL2 = l2 != 0
        for i in range {
            let w = p[i]  // loaded unconditionally: a conditional load would block vectorization
            var gi = g[i] * sign
            if useL2 { gi += lambda * w }
            let first = b1 * m[i] + c1 * gi
            m[i] = first
            let norm = Swift.max(b2 * u[i], gi.magnitude + eps)
            u[i] = norm
            p[i] = w * decay - step * first / norm
        }
    }

    /// NAdam (PyTorch `torch.optim.NAdam`, momentum_decay ψ = 4e-3; C `descent_nadam_step`):
    /// ```
    /// μ_t := β1 (1 - ½ · 0.96^(t ψ)),   μ_{t+1} := β1 (1 - ½ · 0.96^((t+1) ψ))
    /// Π_t := Π_{t-1} μ_t                  (mu_product, starts at 1)
    /// m := β1 m + (1 - β1) g;   v := β2 v + (1 - β2) g²
    /// d := sqrt(v / (1 - β2^t)) + ε
    /// W := W - lr (1 - μ_t) / (1 - Π_t) · g / d - lr μ_{t+1} / (1 - Π_t μ_{t+1}) · m / d
    /// ```
    @inline(__always)
    func nadamKernel<T: DescentScalar>(_ p: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>,
                                       _ m: UnsafeMutablePointer<T>, _ v: UnsafeMutablePointer<T>,
                                       _ range: Range<Int>) {
        let sign = T(gradientSign), lambda = T(l2), decay = T(self.decay)
        let b1 = T(beta1), c1 = T(oneMinusBeta1), b2 = T(beta2), c2 = T(oneMinusBeta2)
        let gradientStep = T(stepSize), momentumStep = T(extra), scale = T(scale2), eps = T(epsilon)
        let useL2 = l2 != 0
        for i in range {
            let w = p[i]  // loaded unconditionally: a conditional load would block vectorization
            var gi = g[i] * sign
            if useL2 { gi += lambda * w }
            let first = b1 * m[i] + c1 * gi
            let second = b2 * v[i] + c2 * gi * gi
            m[i] = first
            v[i] = second
            let denominator = (second * scale).kernelSquareRoot + eps
            p[i] = w * decay - gradientStep * gi / denominator - momentumStep * first / denominator
        }
    }

    /// RAdam (PyTorch `torch.optim.RAdam`; C `descent_radam_step`):
    /// ```
    /// m := β1 m + (1 - β1) g;   v := β2 v + (1 - β2) g²
    /// c1 := 1 - β1^t,  c2 := 1 - β2^t
    /// ρ∞ := 2 / (1 - β2) - 1,   ρ_t := ρ∞ - 2 t β2^t / c2
    /// ρ_t > 5:  r := sqrt((ρ_t - 4)(ρ_t - 2) ρ∞ / ((ρ∞ - 4)(ρ∞ - 2) ρ_t))
    ///           W := W - (lr r sqrt(c2) / c1) m / (sqrt(v) + ε)
    /// else:     W := W - (lr / c1) m
    /// ```
    @inline(__always)
    func radamKernel<T: DescentScalar>(_ p: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>,
                                       _ m: UnsafeMutablePointer<T>, _ v: UnsafeMutablePointer<T>,
                                       _ range: Range<Int>) {
        let sign = T(gradientSign), lambda = T(l2), decay = T(self.decay)
        let b1 = T(beta1), c1 = T(oneMinusBeta1), b2 = T(beta2), c2 = T(oneMinusBeta2)
        let step = T(stepSize), eps = T(epsilon), adaptive = extra != 0
        let useL2 = l2 != 0
        for i in range {
            let w = p[i]  // loaded unconditionally: a conditional load would block vectorization
            var gi = g[i] * sign
            if useL2 { gi += lambda * w }
            let first = b1 * m[i] + c1 * gi
            let second = b2 * v[i] + c2 * gi * gi
            m[i] = first
            v[i] = second
            let direction = adaptive ? first / (second.kernelSquareRoot + eps) : first
            p[i] = w * decay - step * direction
        }
    }
}
