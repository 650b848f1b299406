#if canImport(Glibc)
import Glibc
#endif

/// The one-cycle policy with PyTorch's OneCycleLR semantics (Smith & Topin, "Super-Convergence").
///
/// With `initial = maxLR / divFactor` and `minimum = initial / finalDivFactor`, the phases are
/// ```
/// two phases:   [0, p*T - 1]        initial -> maxLR
///               [.., T - 1]         maxLR   -> minimum
/// three phases: [0, p*T - 1]        initial -> maxLR
///               [.., 2*p*T - 2]     maxLR   -> initial
///               [.., T - 1]         initial -> minimum
/// ```
/// (p = pctStart, T = totalSteps; phase ends are real numbers, as in PyTorch). Step t falls in the
/// first phase whose end is >= t, or the last phase; with that phase's start s and end e,
/// `pct = (t - s) / (e - s)` and the rate is
/// `cos:    end + (start - end) / 2 * (1 + cos(pi * pct))` or
/// `linear: start + (end - start) * pct`.
/// Valid steps are 0 ... T (PyTorch raises past T; so does `value(at:)`).
///
/// Momentum cycling (PyTorch's `cycle_momentum=True`): with a `MomentumRange` the momentum moves
/// inversely to the rate over the same phases, annealed the same way:
/// ```
/// two phases:   max_momentum -> base_momentum,  base_momentum -> max_momentum
/// three phases: max_momentum -> base_momentum,  base_momentum -> max_momentum,
///               max_momentum -> max_momentum (flat)
/// ```
/// `momentum(at:)` evaluates it (same step domain as `value(at:)`).
public struct OneCycle: Sendable {
    /// How a phase moves between its end points: cosine or linear.
    public enum Annealing: Int32, Sendable {
        case cosine = 0
        case linear = 1
    }

    /// The momentum bounds of a momentum cycle: 0 <= base <= max, both finite.
    public struct MomentumRange: Sendable, Equatable {
        /// The momentum at the peak learning rate.
        public let base: Double
        /// The momentum at the start and the end.
        public let max: Double

        /// Bounds `0 <= base <= max`, both finite.
        public init(base: Double, max: Double) throws(DescentError) {
            guard base.isFinite, base >= 0 else {
                throw .argument("base_momentum must be finite and >= 0, got \(base)")
            }
            guard max.isFinite, max >= base else {
                throw .argument("max_momentum must be finite and >= base_momentum (\(base)), got \(max)")
            }
            self.base = base
            self.max = max
        }
    }

    struct Phase: Sendable {
        let end: Double
        let startRate: Double
        let endRate: Double
        let startMomentum: Double
        let endMomentum: Double
    }

    /// The peak rate.
    public let maxLearningRate: Double
    /// The cycle's length T.
    public let totalSteps: Int64
    /// The fraction of T spent rising.
    public let pctStart: Double
    /// Cosine or linear phases.
    public let annealing: Annealing
    /// `initial = maxLearningRate / divFactor`.
    public let divFactor: Double
    /// `minimum = initial / finalDivFactor`.
    public let finalDivFactor: Double
    /// Three phases (rise, fall to initial, anneal to minimum) instead of two.
    public let threePhase: Bool
    /// The momentum cycle, or nil when this schedule cycles only the learning rate.
    public let momentumRange: MomentumRange?
    let phases: [Phase]

    init(maxLearningRate: Double, totalSteps: Int64, pctStart: Double, annealing: Annealing,
         divFactor: Double, finalDivFactor: Double, threePhase: Bool,
         momentum: MomentumRange? = nil) throws(DescentError) {
        try requireRate(maxLearningRate, "max_lr")
        guard totalSteps > 0 else { throw .argument("total_steps must be positive, got \(totalSteps)") }
        guard pctStart >= 0, pctStart <= 1 else { throw .argument("pct_start must be in [0, 1], got \(pctStart)") }
        guard divFactor.isFinite, divFactor > 0 else { throw .argument("div_factor must be finite and positive, got \(divFactor)") }
        guard finalDivFactor.isFinite, finalDivFactor > 0 else {
            throw .argument("final_div_factor must be finite and positive, got \(finalDivFactor)")
        }
        let initial = maxLearningRate / divFactor
        let minimum = initial / finalDivFactor
        let total = Double(totalSteps)
        // Without a momentum cycle the momentum columns are unused (momentum(at:) throws).
        let high = momentum?.max ?? 0
        let low = momentum?.base ?? 0
        let phases: [Phase]
        if threePhase {
            phases = [Phase(end: pctStart * total - 1, startRate: initial, endRate: maxLearningRate,
                            startMomentum: high, endMomentum: low),
                      Phase(end: 2 * pctStart * total - 2, startRate: maxLearningRate, endRate: initial,
                            startMomentum: low, endMomentum: high),
                      Phase(end: total - 1, startRate: initial, endRate: minimum,
                            startMomentum: high, endMomentum: high)]
        } else {
            phases = [Phase(end: pctStart * total - 1, startRate: initial, endRate: maxLearningRate,
                            startMomentum: high, endMomentum: low),
                      Phase(end: total - 1, startRate: maxLearningRate, endRate: minimum,
                            startMomentum: low, endMomentum: high)]
        }
        // PyTorch divides by zero at some step in 0...T when a phase has zero width; refuse up front.
        var start = 0.0
        for (index, phase) in phases.enumerated() {
            guard phase.end != start else {
                throw .argument("one-cycle phase \(index + 1) has zero length (pct_start \(pctStart) with total_steps \(totalSteps)); choose another pct_start")
            }
            start = phase.end
        }
        self.maxLearningRate = maxLearningRate
        self.totalSteps = totalSteps
        self.pctStart = pctStart
        self.annealing = annealing
        self.divFactor = divFactor
        self.finalDivFactor = finalDivFactor
        self.threePhase = threePhase
        self.momentumRange = momentum
        self.phases = phases
    }

    /// The learning rate at `step` (0 ... totalSteps).
    func value(at step: Int64) throws(DescentError) -> Double {
        let (phase, pct) = try locate(step)
        return anneal(from: phase.startRate, to: phase.endRate, pct)
    }

    /// The momentum at `step` (0 ... totalSteps): PyTorch OneCycleLR's computed_momentum, annealed
    /// over the same phase and pct as the rate. Throws `.unsupported` without a momentum cycle.
    func momentum(at step: Int64) throws(DescentError) -> Double {
        guard momentumRange != nil else {
            throw DescentError(.unsupported, "this one-cycle schedule does not cycle momentum (make it with momentum bounds)")
        }
        let (phase, pct) = try locate(step)
        return anneal(from: phase.startMomentum, to: phase.endMomentum, pct)
    }

    /// The phase holding `step` and the fraction of it completed (PyTorch's `pct`).
    private func locate(_ step: Int64) throws(DescentError) -> (Phase, Double) {
        guard step >= 0 else { throw .argument("step \(step) is negative; steps count from 0") }
        guard step <= totalSteps else {
            throw .argument("one-cycle step \(step) is past total_steps \(totalSteps)")
        }
        let t = Double(step)
        var start = 0.0
        for (index, phase) in phases.enumerated() {
            if t <= phase.end || index == phases.count - 1 {
                return (phase, (t - start) / (phase.end - start))
            }
            start = phase.end
        }
        throw DescentError(.internal, "one-cycle schedule has no phases")
    }

    private func anneal(from start: Double, to end: Double, _ pct: Double) -> Double {
        switch annealing {
        case .cosine:
            return end + (start - end) / 2 * (cos(Double.pi * pct) + 1)
        case .linear:
            return (end - start) * pct + start
        }
    }
}
