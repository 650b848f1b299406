import DescentSupport
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
        try KernelPath.requireUsable()
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

    /// The plan as the C kernels read it (Sources/DescentSupport/step_kernels_type.h).
    var kernelPlan: dsupport_step_plan {
        dsupport_step_plan(rule: rule.rawValue, flags: flags.rawValue, first_step: firstStep ? 1 : 0, reserved: 0,
                           gradient_sign: gradientSign, l2: l2, decay: decay, learning_rate: learningRate,
                           beta1: beta1, one_minus_beta1: oneMinusBeta1, beta2: beta2,
                           one_minus_beta2: oneMinusBeta2, epsilon: epsilon, step_size: stepSize,
                           scale2: scale2, extra: extra, keys: (0, 0, 0), reserved2: 0)
    }

    /// Applies a plan (its C form, `kernelPlan`, built once per step and group) to elements `range`
    /// of one parameter, its gradient and its state slots (a slot the rule does not need under
    /// these flags may be nil), with the C kernels of the selected instruction-set path (`KernelPath`).
    @inline(__always)
    static func run<T: DescentScalar>(_ plan: UnsafePointer<dsupport_step_plan>, _ param: UnsafeMutablePointer<T>,
                                      _ grad: UnsafePointer<T>, _ s0: UnsafeMutablePointer<T>?,
                                      _ s1: UnsafeMutablePointer<T>?, _ s2: UnsafeMutablePointer<T>?,
                                      _ range: Range<Int>) {
        let begin = Int64(range.lowerBound), end = Int64(range.upperBound)
        if MemoryLayout<T>.size == 4 {
            dsupport_step_f32(plan, UnsafeMutableRawPointer(param).assumingMemoryBound(to: Float.self),
                              UnsafeRawPointer(grad).assumingMemoryBound(to: Float.self),
                              s0.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: Float.self) },
                              s1.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: Float.self) },
                              s2.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: Float.self) }, begin, end)
        } else {
            dsupport_step_f64(plan, UnsafeMutableRawPointer(param).assumingMemoryBound(to: Double.self),
                              UnsafeRawPointer(grad).assumingMemoryBound(to: Double.self),
                              s0.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: Double.self) },
                              s1.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: Double.self) },
                              s2.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: Double.self) }, begin, end)
        }
    }
}

/// True when every element of `values[range]` is finite: a read-only pass over the bit patterns
/// on the selected instruction-set path (`dsupport_all_finite_f32` explains the bit trick).
func allFinite<T: DescentScalar>(_ values: UnsafePointer<T>, _ range: Range<Int>) -> Bool {
    let begin = Int64(range.lowerBound), end = Int64(range.upperBound)
    if MemoryLayout<T>.size == 4 {
        return dsupport_all_finite_f32(UnsafeRawPointer(values).assumingMemoryBound(to: Float.self), begin, end) != 0
    }
    return dsupport_all_finite_f64(UnsafeRawPointer(values).assumingMemoryBound(to: Double.self), begin, end) != 0
}
