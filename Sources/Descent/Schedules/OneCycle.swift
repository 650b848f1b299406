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
public struct OneCycle: Sendable {
    public enum Annealing: Int32, Sendable {
        case cosine = 0
        case linear = 1
    }

    struct Phase: Sendable {
        let end: Double
        let startRate: Double
        let endRate: Double
    }

    public let maxLearningRate: Double
    public let totalSteps: Int64
    public let pctStart: Double
    public let annealing: Annealing
    public let divFactor: Double
    public let finalDivFactor: Double
    public let threePhase: Bool
    let phases: [Phase]

    init(maxLearningRate: Double, totalSteps: Int64, pctStart: Double, annealing: Annealing,
         divFactor: Double, finalDivFactor: Double, threePhase: Bool) throws(DescentError) {
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
        let phases: [Phase]
        if threePhase {
            phases = [Phase(end: pctStart * total - 1, startRate: initial, endRate: maxLearningRate),
                      Phase(end: 2 * pctStart * total - 2, startRate: maxLearningRate, endRate: initial),
                      Phase(end: total - 1, startRate: initial, endRate: minimum)]
        } else {
            phases = [Phase(end: pctStart * total - 1, startRate: initial, endRate: maxLearningRate),
                      Phase(end: total - 1, startRate: maxLearningRate, endRate: minimum)]
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
        self.phases = phases
    }

    func value(at step: Int64) throws(DescentError) -> Double {
        guard step <= totalSteps else {
            throw .argument("one-cycle step \(step) is past total_steps \(totalSteps)")
        }
        let t = Double(step)
        var start = 0.0
        for (index, phase) in phases.enumerated() {
            if t <= phase.end || index == phases.count - 1 {
                let pct = (t - start) / (phase.end - start)
                switch annealing {
                case .cosine:
                    return phase.endRate + (phase.startRate - phase.endRate) / 2 * (cos(Double.pi * pct) + 1)
                case .linear:
                    return (phase.endRate - phase.startRate) * pct + phase.startRate
                }
            }
            start = phase.end
        }
        throw DescentError(.internal, "one-cycle schedule has no phases")
    }
}
