// Stochastic gradient descent and its momentum forms. Every kernel starts from the same
// gradient preparation (written once here, used by every rule):
//
//     g := -g                 if maximize
//     g := g + λ W            L2 weight decay (default)
//     W := W (1 - lr λ)       decoupled weight decay (flag), before the update

extension StepPlan {
    /// SGD (PyTorch `torch.optim.SGD`; C `descent_sgd_step`), t = step count starting at 1:
    /// ```
    /// plain (μ = 0):          W := W - lr g
    /// PyTorch momentum:       b := g                      if t == 1
    ///                         b := μ b + (1 - τ) g        otherwise   (τ = dampening)
    ///                         d := g + μ b (Nesterov) or d := b;   W := W - lr d
    /// exponential average:    v := μ v + (1 - μ) g;   W := W - lr v   (deeplearning.ai notes, v starts at 0)
    /// cs231n:                 v := μ v - lr g;        W := W + v     (v starts at 0)
    /// ```
    @inline(__always)
    func sgdKernel<T: DescentScalar>(_ p: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>,
                                     _ buffer: UnsafeMutablePointer<T>?, _ range: Range<Int>) {
        let sign = T(gradientSign), lambda = T(l2), decay = T(self.decay), lr = T(learningRate)
        let useL2 = l2 != 0
        guard let b = buffer, beta1 != 0 else {
            for i in range {
                let w = p[i]
                var gi = g[i] * sign
                if useL2 { gi += lambda * w }
                p[i] = w * decay - lr * gi
            }
            return
        }
        let mu = T(beta1)
        if flags.contains(.cs231nMomentum) {
            for i in range {
                let w = p[i]
                var gi = g[i] * sign
                if useL2 { gi += lambda * w }
                let v = mu * b[i] - lr * gi
                b[i] = v
                p[i] = w * decay + v
            }
            return
        }
        let copyFirst = firstStep && !flags.contains(.exponentialAverageMomentum)
        let nesterov = flags.contains(.nesterov)
        // Constant arguments to an always-inlined loop give one specialised (vectorized) loop per case.
        switch (copyFirst, nesterov, useL2) {
        case (false, false, false): momentumLoop(p, g, b, false, false, false, range)
        case (false, true, false): momentumLoop(p, g, b, false, true, false, range)
        default: momentumLoop(p, g, b, copyFirst, nesterov, useL2, range)
        }
    }

    @inline(__always)
    private func momentumLoop<T: DescentScalar>(_ p: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>,
                                                _ b: UnsafeMutablePointer<T>, _ copyFirst: Bool, _ nesterov: Bool,
                                                _ useL2: Bool, _ range: Range<Int>) {
        let sign = T(gradientSign), lambda = T(l2), decay = T(self.decay), lr = T(learningRate)
        let mu = T(beta1), keep = T(oneMinusBeta1)
        for i in range {
            let w = p[i]  // loaded unconditionally: a conditional load would block vectorization
            var gi = g[i] * sign
            if useL2 { gi += lambda * w }
            let v = copyFirst ? gi : mu * b[i] + keep * gi
            b[i] = v
            let direction = nesterov ? gi + mu * v : v
            p[i] = w * decay - lr * direction
        }
    }

    /// Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"; C `descent_lion_step`):
    /// ```
    /// c := β1 m + (1 - β1) g;   W := W - lr sign(c);   m := β2 m + (1 - β2) g
    /// ```
    /// sign(0) = 0 and sign(NaN) = NaN (as NumPy's and PyTorch's sign): a NaN gradient under the
    /// `proceed` policy reaches the parameter, as it does for every other rule, instead of
    /// freezing that element (its exp_avg stays NaN, and a sign of 0 would stop it forever).
    /// Weight decay is usually decoupled for Lion (the Python class's default).
    @inline(__always)
    func lionKernel<T: DescentScalar>(_ p: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>,
                                      _ m: UnsafeMutablePointer<T>, _ range: Range<Int>) {
        let sign = T(gradientSign), lambda = T(l2), decay = T(self.decay), lr = T(learningRate)
        let b1 = T(beta1), c1 = T(oneMinusBeta1), b2 = T(beta2), c2 = T(oneMinusBeta2)
        let useL2 = l2 != 0
        for i in range {
            let w = p[i]  // loaded unconditionally: a conditional load would block vectorization
            var gi = g[i] * sign
            if useL2 { gi += lambda * w }
            let c = b1 * m[i] + c1 * gi
            let direction: T = c > 0 ? 1 : (c < 0 ? -1 : (c == c ? 0 : c))  // sign(NaN) = NaN
            p[i] = w * decay - lr * direction
            m[i] = b2 * m[i] + c2 * gi
        }
    }
}
