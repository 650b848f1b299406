/// How a schedule meets the learning rate an optimizer was built with.
///
/// PyTorch's convention, which this library follows: a scheduler starts from the optimizer's own
/// `lr` (its `base_lr`). A schedule here is built around a rate of its own, its `baseRate`
/// (`initial` of the decaying and annealing schedules, a constant's rate, the first piecewise
/// value, one-cycle's maximum). When a schedule drives an optimizer, `ScheduleBase` says whose
/// rate counts; by default the two must agree, so a schedule never silently overrides the rate
/// the optimizer was built with.
public enum ScheduleBase: Int32, Sendable, CaseIterable {
    /// The schedule's base rate must equal every group's learning rate (to 1e-12 relative); a
    /// conflict is an `.invalidArgument` error. The default.
    case agree = 0
    /// The schedule follows the optimizer: it is rebased (`rebased(to:)`) to each group's
    /// learning rate, as a PyTorch scheduler uses each group's `lr`.
    case optimizer = 1
    /// The schedule's own rates replace the optimizer's (an explicit override).
    case schedule = 2

    /// Validates a raw value from the C ABI (`DESCENT_SCHEDULE_BASE_*`).
    public init(checking raw: Int32) throws(DescentError) {
        guard let value = ScheduleBase(rawValue: raw) else {
            throw .argument("schedule base must be 0 (agree), 1 (optimizer) or 2 (schedule), got \(raw)")
        }
        self = value
    }
}

extension LearningRateSchedule {
    /// The rate the schedule is built around: `initial` for the decaying, annealing and ramp
    /// schedules, the rate of a constant one, `values[0]` of a piecewise-constant one, the
    /// maximum of a one-cycle one and the first part's base rate for a sequential one.
    public var baseRate: Double {
        switch kind {
        case .constant(let learningRate): return learningRate
        case .inverseTime(let initial, _), .exponential(let initial, _), .inversePower(let initial, _, _, _),
             .stepDecay(let initial, _, _), .multiStep(let initial, _, _), .cosine(let initial, _, _),
             .cosineWarmRestarts(let initial, _, _, _), .linear(let initial, _, _, _),
             .polynomial(let initial, _, _, _):
            return initial
        case .piecewiseConstant(_, let values): return values[0]
        case .oneCycle(let cycle): return cycle.maxLearningRate
        case .sequential(let schedules, _): return schedules[0].baseRate
        }
    }

    /// The same schedule built around `rate` instead of `baseRate` (PyTorch: a scheduler's
    /// `base_lr` is the optimizer's `lr`). The base rate becomes `rate`; absolute floors stay
    /// (cosine's `minimum`, polynomial's `final`, as PyTorch's `eta_min` and `end_lr` do);
    /// piecewise-constant values scale by `rate / values[0]`; each part of a sequential schedule
    /// is rebased by the same ratio `rate / baseRate`, so the parts keep their proportions.
    /// Throws `.invalidArgument` for a rate that is not finite and >= 0, and for a schedule whose
    /// base rate is 0 but has other rates to scale (a piecewise or sequential one).
    public func rebased(to rate: Double) throws(DescentError) -> LearningRateSchedule {
        try requireRate(rate, "learning rate")
        switch kind {
        case .constant:
            return LearningRateSchedule(.constant(learningRate: rate))
        case .inverseTime(_, let decayRate):
            return LearningRateSchedule(.inverseTime(initial: rate, decayRate: decayRate))
        case .exponential(_, let gamma):
            return LearningRateSchedule(.exponential(initial: rate, gamma: gamma))
        case .inversePower(_, let k, let power, let offset):
            return LearningRateSchedule(.inversePower(initial: rate, k: k, power: power, offset: offset))
        case .stepDecay(_, let stepSize, let gamma):
            return LearningRateSchedule(.stepDecay(initial: rate, stepSize: stepSize, gamma: gamma))
        case .multiStep(_, let milestones, let gamma):
            return LearningRateSchedule(.multiStep(initial: rate, milestones: milestones, gamma: gamma))
        case .cosine(_, let period, let minimum):
            return LearningRateSchedule(.cosine(initial: rate, period: period, minimum: minimum))
        case .cosineWarmRestarts(_, let firstPeriod, let multiplier, let minimum):
            return LearningRateSchedule(.cosineWarmRestarts(initial: rate, firstPeriod: firstPeriod,
                                                            periodMultiplier: multiplier, minimum: minimum))
        case .linear(_, let startFactor, let endFactor, let totalSteps):
            return LearningRateSchedule(.linear(initial: rate, startFactor: startFactor, endFactor: endFactor,
                                                totalSteps: totalSteps))
        case .polynomial(_, let totalSteps, let power, let final):
            return LearningRateSchedule(.polynomial(initial: rate, totalSteps: totalSteps, power: power, final: final))
        case .piecewiseConstant(let boundaries, let values):
            let ratio = try scaleRatio(rate)
            var scaled: [Double] = []
            for value in values {
                let next = value * ratio
                try requireRate(next, "rebased piecewise value")
                scaled.append(next)
            }
            scaled[0] = rate
            return LearningRateSchedule(.piecewiseConstant(boundaries: boundaries, values: scaled))
        case .oneCycle(let cycle):
            return LearningRateSchedule(.oneCycle(try OneCycle(
                maxLearningRate: rate, totalSteps: cycle.totalSteps, pctStart: cycle.pctStart,
                annealing: cycle.annealing, divFactor: cycle.divFactor, finalDivFactor: cycle.finalDivFactor,
                threePhase: cycle.threePhase, momentum: cycle.momentumRange)))
        case .sequential(let schedules, let milestones):
            let ratio = try scaleRatio(rate)
            var parts: [LearningRateSchedule] = []
            for (index, part) in schedules.enumerated() {
                parts.append(try part.rebased(to: index == 0 ? rate : part.baseRate * ratio))
            }
            return LearningRateSchedule(.sequential(schedules: parts, milestones: milestones))
        }
    }

    /// `rate / baseRate` for the schedules that scale several rates at once.
    private func scaleRatio(_ rate: Double) throws(DescentError) -> Double {
        let base = baseRate
        if base == rate { return 1 }
        guard base > 0 else {
            throw .argument("this schedule starts at rate 0, so it cannot be rebased to \(rate): give it a nonzero first rate")
        }
        let ratio = rate / base
        guard ratio.isFinite else { throw .argument("rebasing from \(base) to \(rate) overflows") }
        return ratio
    }

    /// The schedule each optimizer group follows under `base`, given the groups' current learning
    /// rates: `self` for every group (`.agree`, after checking that every rate equals `baseRate`,
    /// and `.schedule`), or `self` rebased to each group's rate (`.optimizer`).
    public func forGroups(withRates rates: [Double], base: ScheduleBase) throws(DescentError) -> [LearningRateSchedule] {
        switch base {
        case .schedule:
            return rates.map { _ in self }
        case .agree:
            let own = baseRate
            for (group, rate) in rates.enumerated() where !ratesAgree(own, rate) {
                throw .argument("the schedule is built around learning rate \(own), but optimizer group \(group) has lr \(rate): build the optimizer with lr \(own), or let the schedule follow the optimizer (ScheduleBase.optimizer; Python: a schedule made without lr0), or let it override the optimizer's rate (ScheduleBase.schedule)")
            }
            return rates.map { _ in self }
        case .optimizer:
            var schedules: [LearningRateSchedule] = []
            for rate in rates { schedules.append(try rebased(to: rate)) }
            return schedules
        }
    }
}

/// Two learning rates are the same rate when they differ by at most 1e-12 relative.
func ratesAgree(_ a: Double, _ b: Double) -> Bool {
    a == b || Swift.abs(a - b) <= 1e-12 * Swift.max(Swift.abs(a), Swift.abs(b))
}
