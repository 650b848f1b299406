// Per-coordinate adaptive rules without momentum averaging of the first moment: Adagrad,
// Adadelta, RMSprop. The gradient is prepared as in Kernels+SGD.swift (maximize, weight decay).

extension StepPlan {
    /// Adagrad (PyTorch `torch.optim.Adagrad`; C `descent_adagrad_step`), t starting at 1:
    /// ```
    /// clr := lr / (1 + (t - 1) η)          (η = lr_decay)
    /// s   := s + g²                         (s starts at initial_accumulator_value)
    /// W   := W - clr g / (sqrt(s) + ε)      or  / sqrt(s + ε)  with eps-inside-sqrt
    /// ```
    @inline(__always)
    func adagradKernel<T: DescentScalar>(_ p: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>,
                                         _ s: UnsafeMutablePointer<T>, _ range: Range<Int>) {
        let sign = T(gradientSign), lambda = T(l2), decay = T(self.decay), clr = T(stepSize), eps = T(epsilon)
        let useL2 = l2 != 0, inside = flags.contains(.epsilonInsideSqrt)
        for i in range {
            let w = p[i]  // loaded unconditionally: a conditional load would block vectorization
            var gi = g[i] * sign
            if useL2 { gi += lambda * w }
            let sum = s[i] + gi * gi
            s[i] = sum
            let denominator = inside ? (sum + eps).kernelSquareRoot : sum.kernelSquareRoot + eps
            p[i] = w * decay - clr * gi / denominator
        }
    }

    /// Adadelta (PyTorch `torch.optim.Adadelta`; C `descent_adadelta_step`):
    /// ```
    /// v := ρ v + (1 - ρ) g²
    /// Δ := sqrt(u + ε) / sqrt(v + ε) · g
    /// u := ρ u + (1 - ρ) Δ²
    /// W := W - lr Δ
    /// ```
    /// v (square_avg) and u (acc_delta) start at 0.
    @inline(__always)
    func adadeltaKernel<T: DescentScalar>(_ p: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>,
                                          _ v: UnsafeMutablePointer<T>, _ u: UnsafeMutablePointer<T>,
                                          _ range: Range<Int>) {
        let sign = T(gradientSign), lambda = T(l2), decay = T(self.decay), lr = T(learningRate)
        let rho = T(beta2), keep = T(oneMinusBeta2), eps = T(epsilon)
        let useL2 = l2 != 0
        for i in range {
            let w = p[i]  // loaded unconditionally: a conditional load would block vectorization
            var gi = g[i] * sign
            if useL2 { gi += lambda * w }
            let square = rho * v[i] + keep * gi * gi
            v[i] = square
            let delta = (u[i] + eps).kernelSquareRoot / (square + eps).kernelSquareRoot * gi
            u[i] = rho * u[i] + keep * delta * delta
            p[i] = w * decay - lr * delta
        }
    }

    /// RMSprop (PyTorch `torch.optim.RMSprop`; C `descent_rmsprop_step`):
    /// ```
    /// v := α v + (1 - α) g²
    /// centered:   ḡ := α ḡ + (1 - α) g;   d := sqrt(v - ḡ²) + ε
    /// otherwise:  d := sqrt(v) + ε        (eps-inside-sqrt: sqrt(v [- ḡ²] + ε))
    /// μ > 0:      b := μ b + g / d;   W := W - lr b
    /// μ = 0:      W := W - lr g / d
    /// ```
    /// v (square_avg), ḡ (grad_avg) and b (momentum_buffer) start at 0.
    @inline(__always)
    func rmspropKernel<T: DescentScalar>(_ p: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>,
                                         _ v: UnsafeMutablePointer<T>, _ average: UnsafeMutablePointer<T>?,
                                         _ buffer: UnsafeMutablePointer<T>?, _ range: Range<Int>) {
        let centered = flags.contains(.centered) ? average : nil
        let momentumBuffer = beta1 != 0 ? buffer : nil
        let useL2 = l2 != 0, inside = flags.contains(.epsilonInsideSqrt)
        // Constant arguments to an always-inlined loop give one specialised (vectorized) loop per case.
        switch (centered, momentumBuffer, useL2, inside) {
        case (nil, nil, false, false): rmspropLoop(p, g, v, nil, nil, false, false, range)
        case (nil, let b?, false, false): rmspropLoop(p, g, v, nil, b, false, false, range)
        case (let c?, nil, false, false): rmspropLoop(p, g, v, c, nil, false, false, range)
        case (let c?, let b?, false, false): rmspropLoop(p, g, v, c, b, false, false, range)
        default: rmspropLoop(p, g, v, centered, momentumBuffer, useL2, inside, range)
        }
    }

    @inline(__always)
    private func rmspropLoop<T: DescentScalar>(_ p: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>,
                                               _ v: UnsafeMutablePointer<T>, _ centered: UnsafeMutablePointer<T>?,
                                               _ momentumBuffer: UnsafeMutablePointer<T>?, _ useL2: Bool,
                                               _ inside: Bool, _ range: Range<Int>) {
        let sign = T(gradientSign), lambda = T(l2), decay = T(self.decay), lr = T(learningRate)
        let alpha = T(beta2), keep = T(oneMinusBeta2), eps = T(epsilon), mu = T(beta1)
        for i in range {
            let w = p[i]
            var gi = g[i] * sign
            if useL2 { gi += lambda * w }
            let square = alpha * v[i] + keep * gi * gi
            v[i] = square
            var centeredSquare = square
            if let centered {
                let mean = alpha * centered[i] + keep * gi
                centered[i] = mean
                centeredSquare = square - mean * mean
            }
            let denominator = inside ? (centeredSquare + eps).kernelSquareRoot : centeredSquare.kernelSquareRoot + eps
            if let momentumBuffer {
                let b = mu * momentumBuffer[i] + gi / denominator
                momentumBuffer[i] = b
                p[i] = w * decay - lr * b
            } else {
                p[i] = w * decay - lr * gi / denominator
            }
        }
    }
}
