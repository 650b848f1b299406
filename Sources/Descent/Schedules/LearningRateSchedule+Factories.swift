/// Validated constructors, one per schedule. Every rate (initial, minimum, final) must be finite
/// and >= 0; periods and step counts must be positive. Bad arguments throw `.invalidArgument`.
/// C counterparts: `descent_schedule_new_<kind>`.
extension LearningRateSchedule {
    /// `lr(t) = learningRate` for every t: the "manual setting" case (set the rate yourself).
    public static func constant(_ learningRate: Double) throws(DescentError) -> LearningRateSchedule {
        try requireRate(learningRate, "lr")
        return LearningRateSchedule(.constant(learningRate: learningRate))
    }

    /// Epoch-based decay `lr(t) = initial / (1 + decayRate * t)` (the deeplearning.ai course notes'
    /// learning-rate decay; cs231n's 1/t decay).
    public static func inverseTime(initial: Double, decayRate: Double) throws(DescentError) -> LearningRateSchedule {
        try requireRate(initial, "initial lr")
        try requireNonNegative(decayRate, "decay_rate")
        return LearningRateSchedule(.inverseTime(initial: initial, decayRate: decayRate))
    }

    /// Exponential decay `lr(t) = initial * gamma^t` (PyTorch ExponentialLR; deeplearning.ai's 0.95^t).
    public static func exponential(initial: Double, gamma: Double) throws(DescentError) -> LearningRateSchedule {
        try requireRate(initial, "initial lr")
        try requireNonNegative(gamma, "gamma")
        return LearningRateSchedule(.exponential(initial: initial, gamma: gamma))
    }

    /// `lr(t) = initial * k / (t + offset)^power`; power 0.5 is deeplearning.ai's k / sqrt(t),
    /// offset 1 maps the 0-based step onto the 1-based epoch number.
    public static func inversePower(initial: Double, k: Double, power: Double,
                                    offset: Double) throws(DescentError) -> LearningRateSchedule {
        try requireRate(initial, "initial lr")
        try requireNonNegative(k, "k")
        try requireNonNegative(power, "power")
        guard offset.isFinite, offset > 0 else { throw .argument("offset must be finite and positive, got \(offset)") }
        return LearningRateSchedule(.inversePower(initial: initial, k: k, power: power, offset: offset))
    }

    /// Staircase decay `lr(t) = initial * gamma^floor(t / stepSize)` (PyTorch StepLR).
    public static func stepDecay(initial: Double, stepSize: Int64, gamma: Double) throws(DescentError) -> LearningRateSchedule {
        try requireRate(initial, "initial lr")
        try requirePeriod(stepSize, "step_size")
        try requireNonNegative(gamma, "gamma")
        return LearningRateSchedule(.stepDecay(initial: initial, stepSize: stepSize, gamma: gamma))
    }

    /// `lr(t) = initial * gamma^(number of milestones <= t)` (PyTorch MultiStepLR: milestones in
    /// any order; a repeated milestone applies gamma again).
    public static func multiStep(initial: Double, milestones: [Int64], gamma: Double) throws(DescentError) -> LearningRateSchedule {
        try requireRate(initial, "initial lr")
        try requireNonNegative(gamma, "gamma")
        for milestone in milestones where milestone < 0 {
            throw .argument("milestone \(milestone) is negative")
        }
        return LearningRateSchedule(.multiStep(initial: initial, milestones: milestones.sorted(), gamma: gamma))
    }

    /// Piecewise-constant ("manual") rates: `lr(t) = values[i]` where i is the number of
    /// boundaries <= t. Boundaries are strictly increasing and >= 1; values has one more entry.
    public static func piecewiseConstant(boundaries: [Int64], values: [Double]) throws(DescentError) -> LearningRateSchedule {
        guard values.count == boundaries.count + 1 else {
            throw .argument("piecewise-constant needs \(boundaries.count + 1) values for \(boundaries.count) boundaries, got \(values.count)")
        }
        for value in values { try requireRate(value, "value") }
        try requireIncreasing(boundaries, "boundaries")
        return LearningRateSchedule(.piecewiseConstant(boundaries: boundaries, values: values))
    }

    /// Cosine annealing, PyTorch CosineAnnealingLR's closed form:
    /// `lr(t) = minimum + (initial - minimum) * (1 + cos(pi * t / period)) / 2`
    /// (for t > period the cosine continues, rising again, exactly as PyTorch's closed form).
    public static func cosine(initial: Double, period: Int64, minimum: Double) throws(DescentError) -> LearningRateSchedule {
        try requireRate(initial, "initial lr")
        try requirePeriod(period, "T_max")
        try requireRate(minimum, "eta_min")
        return LearningRateSchedule(.cosine(initial: initial, period: period, minimum: minimum))
    }

    /// Cosine annealing with warm restarts (SGDR, PyTorch CosineAnnealingWarmRestarts): cycle i
    /// lasts `firstPeriod * multiplier^i` steps; inside a cycle of length T_i at position T_cur,
    /// `lr = minimum + (initial - minimum) * (1 + cos(pi * T_cur / T_i)) / 2`.
    public static func cosineWarmRestarts(initial: Double, firstPeriod: Int64, periodMultiplier: Int64,
                                          minimum: Double) throws(DescentError) -> LearningRateSchedule {
        try requireRate(initial, "initial lr")
        try requirePeriod(firstPeriod, "T_0")
        guard periodMultiplier >= 1 else { throw .argument("T_mult must be an integer >= 1, got \(periodMultiplier)") }
        try requireRate(minimum, "eta_min")
        return LearningRateSchedule(.cosineWarmRestarts(initial: initial, firstPeriod: firstPeriod,
                                                        periodMultiplier: periodMultiplier, minimum: minimum))
    }

    /// Linear ramp, PyTorch LinearLR:
    /// `lr(t) = initial * (startFactor + (endFactor - startFactor) * min(t, totalSteps) / totalSteps)`.
    /// With startFactor < 1 = endFactor it is a linear warmup.
    public static func linear(initial: Double, startFactor: Double, endFactor: Double,
                              totalSteps: Int64) throws(DescentError) -> LearningRateSchedule {
        try requireRate(initial, "initial lr")
        try requireNonNegative(startFactor, "start_factor")
        try requireNonNegative(endFactor, "end_factor")
        try requirePeriod(totalSteps, "total_iters")
        return LearningRateSchedule(.linear(initial: initial, startFactor: startFactor, endFactor: endFactor,
                                            totalSteps: totalSteps))
    }

    /// Polynomial decay (PyTorch PolynomialLR when final = 0; TensorFlow PolynomialDecay otherwise):
    /// `lr(t) = (initial - final) * (1 - min(t, totalSteps) / totalSteps)^power + final`.
    public static func polynomial(initial: Double, totalSteps: Int64, power: Double,
                                  final: Double) throws(DescentError) -> LearningRateSchedule {
        try requireRate(initial, "initial lr")
        try requirePeriod(totalSteps, "total_iters")
        try requireNonNegative(power, "power")
        try requireRate(final, "end_lr")
        return LearningRateSchedule(.polynomial(initial: initial, totalSteps: totalSteps, power: power, final: final))
    }

    /// The one-cycle policy (PyTorch OneCycleLR); see `OneCycle`. With `momentum` (PyTorch's
    /// cycle_momentum with base_momentum / max_momentum, there 0.85 / 0.95) the schedule also
    /// answers `momentum(at:)`; without it only the rate cycles.
    public static func oneCycle(maxLearningRate: Double, totalSteps: Int64, pctStart: Double = 0.3,
                                annealing: OneCycle.Annealing = .cosine, divFactor: Double = 25,
                                finalDivFactor: Double = 1e4, threePhase: Bool = false,
                                momentum: OneCycle.MomentumRange? = nil) throws(DescentError) -> LearningRateSchedule {
        LearningRateSchedule(.oneCycle(try OneCycle(
            maxLearningRate: maxLearningRate, totalSteps: totalSteps, pctStart: pctStart, annealing: annealing,
            divFactor: divFactor, finalDivFactor: finalDivFactor, threePhase: threePhase, momentum: momentum)))
    }

    /// Schedules run one after another (PyTorch SequentialLR): schedule i covers
    /// [milestones[i-1], milestones[i]) and restarts its own count there:
    /// `lr(t) = schedules[i].value(t - milestones[i-1])` (with milestones[-1] = 0).
    /// Milestones are strictly increasing and >= 1, one fewer than schedules.
    /// Linear warmup then cosine: `sequential([linear(lr, 0, 1, w), cosine(lr, T, 0)], [w])`.
    public static func sequential(_ schedules: [LearningRateSchedule],
                                  milestones: [Int64]) throws(DescentError) -> LearningRateSchedule {
        guard !schedules.isEmpty else { throw .argument("sequential needs at least one schedule") }
        guard milestones.count == schedules.count - 1 else {
            throw .argument("sequential needs \(schedules.count - 1) milestones for \(schedules.count) schedules, got \(milestones.count)")
        }
        try requireIncreasing(milestones, "milestones")
        return LearningRateSchedule(.sequential(schedules: schedules, milestones: milestones))
    }
}

func requireRate(_ value: Double, _ name: String) throws(DescentError) {
    guard value.isFinite, value >= 0 else {
        throw .argument("\(name) must be a finite learning rate >= 0, got \(value)")
    }
}

func requireNonNegative(_ value: Double, _ name: String) throws(DescentError) {
    guard value.isFinite, value >= 0 else { throw .argument("\(name) must be finite and >= 0, got \(value)") }
}

func requirePeriod(_ value: Int64, _ name: String) throws(DescentError) {
    guard value > 0 else { throw .argument("\(name) must be a positive number of steps, got \(value)") }
}

func requireIncreasing(_ marks: [Int64], _ name: String) throws(DescentError) {
    var previous: Int64 = 0
    for mark in marks {
        guard mark > previous else {
            throw .argument("\(name) must be strictly increasing and >= 1, got \(marks)")
        }
        previous = mark
    }
}
