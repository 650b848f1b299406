#if canImport(Glibc)
import Glibc
#endif

/// A learning-rate schedule: a pure function from a step index `t` (0, 1, 2, ...) to a learning
/// rate. Evaluating it never changes it, so one schedule can be shared by threads and optimizers,
/// evaluated ahead or behind, and composed into other schedules.
///
/// The index `t` counts completed steps (or epochs, when the caller advances it per epoch), the
/// way PyTorch's `last_epoch` does: `value(at: 0)` is the learning rate used before the first
/// update, which for every decaying schedule is its initial learning rate. Where PyTorch has the
/// schedule, `value(at: t)` equals PyTorch's closed form (`_get_closed_form_lr`) at `last_epoch = t`.
///
/// Build one with the validated factories in `LearningRateSchedule+Factories.swift`.
/// C counterpart: `descent_schedule` (`descent_schedule_new_*`, `descent_schedule_value`).
public final class LearningRateSchedule: Sendable {
    /// What a schedule computes; each case's formula is on its factory.
    public enum Kind: Sendable {
        case constant(learningRate: Double)
        case inverseTime(initial: Double, decayRate: Double)
        case exponential(initial: Double, gamma: Double)
        case inversePower(initial: Double, k: Double, power: Double, offset: Double)
        case stepDecay(initial: Double, stepSize: Int64, gamma: Double)
        case multiStep(initial: Double, milestones: [Int64], gamma: Double)
        case piecewiseConstant(boundaries: [Int64], values: [Double])
        case cosine(initial: Double, period: Int64, minimum: Double)
        case cosineWarmRestarts(initial: Double, firstPeriod: Int64, periodMultiplier: Int64, minimum: Double)
        case linear(initial: Double, startFactor: Double, endFactor: Double, totalSteps: Int64)
        case polynomial(initial: Double, totalSteps: Int64, power: Double, final: Double)
        case oneCycle(OneCycle)
        case sequential(schedules: [LearningRateSchedule], milestones: [Int64])
    }

    /// What the schedule computes, with its parameters.
    public let kind: Kind

    init(_ kind: Kind) {
        self.kind = kind
    }

    /// The learning rate at step `t` (t >= 0). Throws `.invalidArgument` for a negative `t` or,
    /// for one-cycle, a `t` past `totalSteps` (as PyTorch's OneCycleLR does).
    public func value(at step: Int64) throws(DescentError) -> Double {
        guard step >= 0 else { throw .argument("step \(step) is negative; steps count from 0") }
        let t = Double(step)
        switch kind {
        case .constant(let learningRate):
            return learningRate
        case .inverseTime(let initial, let decayRate):
            return initial / (1 + decayRate * t)
        case .exponential(let initial, let gamma):
            return initial * pow(gamma, t)
        case .inversePower(let initial, let k, let power, let offset):
            return initial * k / pow(t + offset, power)
        case .stepDecay(let initial, let stepSize, let gamma):
            return initial * pow(gamma, Double(step / stepSize))
        case .multiStep(let initial, let milestones, let gamma):
            return initial * pow(gamma, Double(countAtOrBelow(milestones, step)))
        case .piecewiseConstant(let boundaries, let values):
            return values[countAtOrBelow(boundaries, step)]
        case .cosine(let initial, let period, let minimum):
            return cosineAnneal(from: initial, to: minimum, progress: t / Double(period))
        case .cosineWarmRestarts(let initial, let firstPeriod, let multiplier, let minimum):
            let (position, length) = warmRestartPosition(step, firstPeriod: firstPeriod, multiplier: multiplier)
            return cosineAnneal(from: initial, to: minimum, progress: Double(position) / Double(length))
        case .linear(let initial, let startFactor, let endFactor, let totalSteps):
            let done = Double(min(step, totalSteps)) / Double(totalSteps)
            return initial * (startFactor + (endFactor - startFactor) * done)
        case .polynomial(let initial, let totalSteps, let power, let final):
            let remaining = 1 - Double(min(step, totalSteps)) / Double(totalSteps)
            return (initial - final) * pow(remaining, power) + final
        case .oneCycle(let cycle):
            return try cycle.value(at: step)
        case .sequential(let schedules, let milestones):
            let index = countAtOrBelow(milestones, step)
            let start = index == 0 ? 0 : milestones[index - 1]
            return try schedules[index].value(at: step - start)
        }
    }

    /// The momentum at step `t` for a schedule that cycles momentum: a one-cycle schedule made
    /// with momentum bounds (see `OneCycle`), or a sequential schedule with such a part (a warmup
    /// into a one-cycle). Pure, like `value(at:)`. A sequential schedule carries the cycle through,
    /// as PyTorch's SequentialLR does with OneCycleLR: while a cycling part runs, its momentum at
    /// its own step; while another part runs, the momentum the last cycling part ended with (its
    /// last step, at most its total_steps), or before any has run, the first upcoming cycling
    /// part's momentum at its step 0 (its max_momentum, which OneCycleLR sets when it is made).
    /// Throws `.unsupported` for every other schedule and `.invalidArgument` for a step outside
    /// a one-cycle part's 0 ... totalSteps (or a negative one).
    public func momentum(at step: Int64) throws(DescentError) -> Double {
        switch kind {
        case .oneCycle(let cycle) where cycle.momentumRange != nil:
            return try cycle.momentum(at: step)
        case .sequential(let schedules, let milestones) where cyclesMomentum:
            guard step >= 0 else { throw .argument("step \(step) is negative; steps count from 0") }
            let index = countAtOrBelow(milestones, step)
            let start = index == 0 ? 0 : milestones[index - 1]
            if schedules[index].cyclesMomentum { return try schedules[index].momentum(at: step - start) }
            var previous = index - 1
            while previous >= 0 {
                let part = schedules[previous]
                if part.cyclesMomentum {
                    let partStart = previous == 0 ? 0 : milestones[previous - 1]
                    return try part.momentum(at: part.clampedToMomentumSteps(milestones[previous] - 1 - partStart))
                }
                previous -= 1
            }
            for next in (index + 1)..<schedules.count where schedules[next].cyclesMomentum {
                return try schedules[next].momentum(at: 0)
            }
            throw DescentError(.internal, "a sequential schedule that cycles momentum has no cycling part")
        default:
            throw DescentError(.unsupported, "this schedule does not cycle momentum; only a one-cycle schedule made with momentum bounds does (or a sequential schedule with such a part)")
        }
    }

    /// Whether `momentum(at:)` is supported: a one-cycle schedule with momentum bounds, or a
    /// sequential one with such a part.
    public var cyclesMomentum: Bool {
        switch kind {
        case .oneCycle(let cycle): return cycle.momentumRange != nil
        case .sequential(let schedules, _): return schedules.contains { $0.cyclesMomentum }
        default: return false
        }
    }

    /// `step`, or a one-cycle's last valid momentum step when `step` is past it.
    func clampedToMomentumSteps(_ step: Int64) -> Int64 {
        if case .oneCycle(let cycle) = kind { return min(step, cycle.totalSteps) }
        return step
    }
}

/// eta_min + (eta_max - eta_min) * (1 + cos(pi * progress)) / 2 — PyTorch's CosineAnnealingLR form.
@inline(__always)
func cosineAnneal(from maximum: Double, to minimum: Double, progress: Double) -> Double {
    minimum + (maximum - minimum) * (1 + cos(Double.pi * progress)) / 2
}

/// How many entries of the sorted array `marks` are <= `step` (Python's bisect_right).
func countAtOrBelow(_ marks: [Int64], _ step: Int64) -> Int {
    var low = 0
    var high = marks.count
    while low < high {
        let middle = (low + high) / 2
        if marks[middle] <= step { low = middle + 1 } else { high = middle }
    }
    return low
}

/// SGDR bookkeeping in exact integer arithmetic: the position of `step` inside its restart cycle
/// and that cycle's length. Cycle i has length firstPeriod * multiplier^i; cycles tile 0, 1, ...
func warmRestartPosition(_ step: Int64, firstPeriod: Int64, multiplier: Int64) -> (position: Int64, length: Int64) {
    if multiplier == 1 { return (step % firstPeriod, firstPeriod) }
    var start: Int64 = 0
    var length = firstPeriod
    // Each pass at least doubles `length`, so this runs at most ~63 times.
    while step - start >= length {
        start += length
        let (next, overflow) = length.multipliedReportingOverflow(by: multiplier)
        // A cycle longer than Int64.max steps contains every remaining step.
        if overflow { return (step - start, Int64.max) }
        length = next
    }
    return (step - start, length)
}
