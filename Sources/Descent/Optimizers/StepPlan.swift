#if canImport(Glibc)
import Glibc
#endif

/// The scalars one update needs, computed once per step (and per parameter group) in double
/// precision from the hyper-parameters and the step count `t` (1 on the first update): bias
/// corrections, decayed learning rates, NAdam's momentum schedule, RAdam's rectification.
/// Kernels convert them to the tensor's element type once per chunk.
public struct StepPlan: Sendable {
    /// The rule the plan steps.
    public let rule: OptimizerRule
    /// The options in effect.
    public let flags: OptimizerFlags
    /// The step t of this update (1 on the first).
    public let step: Int64
    /// `-1` with `.maximize`, else `1`: the gradient is multiplied by it first.
    var gradientSign: Double = 1
    /// λ for L2 weight decay in the gradient (`g += λW`), 0 when decoupled or off.
    var l2: Double = 0
    /// `1 - lr λ` for decoupled weight decay (`W := W (1 - lr λ)`), else exactly 1.
    var decay: Double = 1
    var learningRate: Double = 0
    var beta1: Double = 0
    var oneMinusBeta1: Double = 0
    var beta2: Double = 0
    var oneMinusBeta2: Double = 0
    var epsilon: Double = 0
    /// Rule-specific step multipliers (documented where each kernel uses them).
    var stepSize: Double = 0
    var scale2: Double = 0
    var extra: Double = 0
    var firstStep = false
    /// NAdam: the running product Π_t after this step (the caller stores it on success).
    public private(set) var muProductAfter: Double = 1

    /// Builds the plan; `hyper` must already be valid for `rule` and `step >= 1`.
    public init(rule: OptimizerRule, hyper: Hyperparameters, step: Int64, muProduct: Double = 1) throws(DescentError) {
        guard step >= 1 else { throw .argument("step must be >= 1 (the first update is step 1), got \(step)") }
        try hyper.validate(for: rule)
        self.rule = rule
        var flags = hyper.flags
        if rule == .adamw { flags.insert(.decoupledWeightDecay) }
        self.flags = flags
        self.step = step
        let lr = hyper.learningRate
        let t = Double(step)
        gradientSign = flags.contains(.maximize) ? -1 : 1
        if flags.contains(.decoupledWeightDecay) { decay = 1 - lr * hyper.weightDecay } else { l2 = hyper.weightDecay }
        learningRate = lr
        beta1 = hyper.beta1
        oneMinusBeta1 = 1 - hyper.beta1
        beta2 = hyper.beta2
        oneMinusBeta2 = 1 - hyper.beta2
        epsilon = hyper.epsilon
        firstStep = step == 1
        let corrected = !flags.contains(.noBiasCorrection)
        let bias1 = corrected ? 1 - pow(hyper.beta1, t) : 1
        let bias2 = corrected ? 1 - pow(hyper.beta2, t) : 1
        switch rule {
        case .sgd:
            beta1 = hyper.momentum
            oneMinusBeta1 = flags.contains(.exponentialAverageMomentum) ? 1 - hyper.momentum : 1 - hyper.dampening
        case .adagrad:
            stepSize = lr / (1 + (t - 1) * hyper.learningRateDecay)
        case .adadelta:
            beta2 = hyper.rho
            oneMinusBeta2 = 1 - hyper.rho
        case .rmsprop:
            beta2 = hyper.alpha
            oneMinusBeta2 = 1 - hyper.alpha
            beta1 = hyper.momentum
        case .adam, .adamw:
            stepSize = lr / bias1
            scale2 = flags.contains(.epsilonInsideSqrt) ? 1 / bias2 : 1 / bias2.squareRoot()
        case .adamax:
            stepSize = lr / bias1
        case .nadam:
            let psi = hyper.momentumDecay
            let mu = hyper.beta1 * (1 - 0.5 * pow(0.96, t * psi))
            let muNext = hyper.beta1 * (1 - 0.5 * pow(0.96, (t + 1) * psi))
            let product = muProduct * mu
            muProductAfter = product
            stepSize = lr * (1 - mu) / (1 - product)
            extra = lr * muNext / (1 - product * muNext)
            scale2 = 1 / bias2
        case .radam:
            let rhoInfinity = 2 / (1 - hyper.beta2) - 1
            let rhoT = rhoInfinity - 2 * t * pow(hyper.beta2, t) / bias2
            if rhoT > 5 {
                let rect = ((rhoT - 4) * (rhoT - 2) * rhoInfinity
                            / ((rhoInfinity - 4) * (rhoInfinity - 2) * rhoT)).squareRoot()
                stepSize = lr * rect * bias2.squareRoot() / bias1
                extra = 1  // adaptive step
            } else {
                stepSize = lr / bias1
                extra = 0  // un-adapted momentum step
            }
        case .lion:
            break
        }
        guard muProductAfter.isFinite, stepSize.isFinite, extra.isFinite, scale2.isFinite else {
            throw DescentError(.nonFinite, "\(rule): step \(step) gives a non-finite step size")
        }
    }

    /// Applies the update to elements `range` of one parameter, its gradient and its state
    /// slots (a slot the rule does not need under these flags may be nil).
    @inline(__always)
    func run<T: DescentScalar>(_ param: UnsafeMutablePointer<T>, _ grad: UnsafePointer<T>,
                               _ s0: UnsafeMutablePointer<T>?, _ s1: UnsafeMutablePointer<T>?,
                               _ s2: UnsafeMutablePointer<T>?, _ range: Range<Int>) {
        switch rule {
        case .sgd: sgdKernel(param, grad, s0, range)
        case .adagrad: if let s0 { adagradKernel(param, grad, s0, range) }
        case .adadelta: if let s0, let s1 { adadeltaKernel(param, grad, s0, s1, range) }
        case .rmsprop: if let s0 { rmspropKernel(param, grad, s0, s1, s2, range) }
        case .adam, .adamw: if let s0, let s1 { adamKernel(param, grad, s0, s1, s2, range) }
        case .adamax: if let s0, let s1 { adamaxKernel(param, grad, s0, s1, range) }
        case .nadam: if let s0, let s1 { nadamKernel(param, grad, s0, s1, range) }
        case .radam: if let s0, let s1 { radamKernel(param, grad, s0, s1, range) }
        case .lion: if let s0 { lionKernel(param, grad, s0, range) }
        }
    }
}

/// True when every element of `values[range]` is finite: a read-only pass over the bit patterns.
/// A float is NaN or ±infinity exactly when its exponent bits are all ones; adding one unit of
/// the exponent's lowest bit to the masked exponent then carries into the sign bit. OR-ing those
/// sums needs only and/add/or, which vectorize on every x86-64 (SSE2), so the scan runs at
/// memory speed.
func allFinite<T: DescentScalar>(_ values: UnsafePointer<T>, _ range: Range<Int>) -> Bool {
    let raw = UnsafeRawPointer(values)
    if MemoryLayout<T>.size == 4 {
        return exponentCarry32(raw.assumingMemoryBound(to: UInt32.self), range) & 0x8000_0000 == 0
    }
    return exponentCarry64(raw.assumingMemoryBound(to: UInt64.self), range) & 0x8000_0000_0000_0000 == 0
}

@inline(never)
func exponentCarry32(_ bits: UnsafePointer<UInt32>, _ range: Range<Int>) -> UInt32 {
    var carry: UInt32 = 0
    for i in range { carry |= (bits[i] & 0x7F80_0000) &+ 0x0080_0000 }
    return carry
}

@inline(never)
func exponentCarry64(_ bits: UnsafePointer<UInt64>, _ range: Range<Int>) -> UInt64 {
    var carry: UInt64 = 0
    for i in range { carry |= (bits[i] & 0x7FF0_0000_0000_0000) &+ 0x0010_0000_0000_0000 }
    return carry
}
