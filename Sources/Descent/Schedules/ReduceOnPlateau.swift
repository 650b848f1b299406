import Synchronization

/// Reduce-on-plateau: lowers the learning rate when a monitored metric stops improving, with
/// PyTorch ReduceLROnPlateau's semantics. Unlike `LearningRateSchedule` it is stateful: each
/// `update(metric:)` is one epoch.
///
/// Per update with metric `m`:
/// ```
/// better(m) = mode min, rel:  m < best * (1 - threshold)     mode min, abs: m < best - threshold
///             mode max, rel:  m > best * (1 + threshold)     mode max, abs: m > best + threshold
/// if better(m): best = m; badEpochs = 0   else: badEpochs += 1
/// if cooldownCounter > 0: cooldownCounter -= 1; badEpochs = 0
/// if badEpochs > patience:
///     new = max(lr * factor, minLR); if lr - new > eps: lr = new
///     cooldownCounter = cooldown; badEpochs = 0
/// ```
/// `best` starts at +inf (min) or -inf (max). A NaN metric is never better (a bad epoch), as in
/// PyTorch. Safe to call from several threads (updates are serialized).
/// C counterpart: `descent_plateau` (`descent_plateau_new`, `_update`, `_lr`, `_state`).
public final class ReduceOnPlateau: Sendable {
    /// Whether the monitored metric should fall (`min`) or rise (`max`).
    public enum Mode: Int32, Sendable { case min = 0, max = 1 }
    /// Whether `threshold` is relative to the best value or absolute.
    public enum ThresholdMode: Int32, Sendable { case relative = 0, absolute = 1 }

    /// The mutable part, for checkpoints.
    public struct State: Sendable, Equatable {
        /// The current rate.
        public var learningRate: Double
        /// The best metric so far (±inf before the first update).
        public var best: Double
        /// Updates since the last improvement.
        public var badEpochs: Int64
        /// Updates left in the cooldown after a reduction.
        public var cooldownCounter: Int64
        /// Updates so far.
        public var updates: Int64

        /// A state to `restore`.
        public init(learningRate: Double, best: Double, badEpochs: Int64, cooldownCounter: Int64, updates: Int64) {
            self.learningRate = learningRate
            self.best = best
            self.badEpochs = badEpochs
            self.cooldownCounter = cooldownCounter
            self.updates = updates
        }
    }

    /// Minimize or maximize the metric.
    public let mode: Mode
    /// The reduction factor (0 < factor < 1).
    public let factor: Double
    /// Bad updates tolerated before a reduction.
    public let patience: Int64
    /// The least change that counts as an improvement.
    public let threshold: Double
    /// Relative or absolute threshold.
    public let thresholdMode: ThresholdMode
    /// Updates to wait after a reduction.
    public let cooldown: Int64
    /// The floor of the rate.
    public let minimumLearningRate: Double
    /// Reductions smaller than this are skipped.
    public let eps: Double
    private let state: ForkAwareMutex<State>

    /// PyTorch ReduceLROnPlateau's semantics and defaults, starting at `learningRate`.
    public init(learningRate: Double, mode: Mode = .min, factor: Double = 0.1, patience: Int64 = 10,
                threshold: Double = 1e-4, thresholdMode: ThresholdMode = .relative, cooldown: Int64 = 0,
                minimumLearningRate: Double = 0, eps: Double = 1e-8) throws(DescentError) {
        try requireRate(learningRate, "lr")
        guard factor.isFinite, factor >= 0, factor < 1 else { throw .argument("factor must be in [0, 1), got \(factor)") }
        guard patience >= 0 else { throw .argument("patience must be >= 0, got \(patience)") }
        try requireNonNegative(threshold, "threshold")
        guard cooldown >= 0 else { throw .argument("cooldown must be >= 0, got \(cooldown)") }
        try requireRate(minimumLearningRate, "min_lr")
        try requireNonNegative(eps, "eps")
        self.mode = mode
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.thresholdMode = thresholdMode
        self.cooldown = cooldown
        self.minimumLearningRate = minimumLearningRate
        self.eps = eps
        let worst = mode == .min ? Double.infinity : -Double.infinity
        self.state = ForkAwareMutex(State(learningRate: learningRate, best: worst, badEpochs: 0, cooldownCounter: 0, updates: 0),
                                    owner: "plateau scheduler")
    }

    /// A snapshot of the mutable state.
    public var current: State {
        get throws(DescentError) { try state.withLock { $0 } }
    }

    /// Records one epoch's metric and returns the learning rate to use from now on. Throws
    /// `.invalidArgument`, changing nothing, when the update counter is already `Int64.max` (only
    /// reachable through `restore`).
    public func update(metric: Double) throws(DescentError) -> Double {
        try state.withLock { (state) throws(DescentError) -> Double in
            guard state.updates < Int64.max else {
                throw .argument("the update counter is at its maximum \(Int64.max); restore a smaller one")
            }
            state.updates += 1
            if isBetter(metric, than: state.best) {
                state.best = metric
                state.badEpochs = 0
            } else if state.badEpochs < Int64.max {
                // Saturates: a restored count of Int64.max is already more than any patience.
                state.badEpochs += 1
            }
            if state.cooldownCounter > 0 {
                state.cooldownCounter -= 1
                state.badEpochs = 0
            }
            if state.badEpochs > patience {
                let reduced = Swift.max(state.learningRate * factor, minimumLearningRate)
                if state.learningRate - reduced > eps { state.learningRate = reduced }
                state.cooldownCounter = cooldown
                state.badEpochs = 0
            }
            return state.learningRate
        }
    }

    /// Replaces the learning rate (a manual change between epochs; PyTorch's scheduler reads the
    /// optimizer's current rate at each reduction, so a manual change is honoured the same way).
    public func setLearningRate(_ learningRate: Double) throws(DescentError) {
        try requireRate(learningRate, "lr")
        try state.withLock { $0.learningRate = learningRate }
    }

    /// Replaces the whole mutable state (resuming from a checkpoint). Checked before anything changes.
    public func restore(_ restored: State) throws(DescentError) {
        try requireRate(restored.learningRate, "lr")
        guard !restored.best.isNaN else { throw .argument("best must not be NaN") }
        guard restored.badEpochs >= 0, restored.cooldownCounter >= 0, restored.updates >= 0 else {
            throw .argument("num_bad_epochs, cooldown_counter and updates must be >= 0")
        }
        try state.withLock { $0 = restored }
    }

    func isBetter(_ metric: Double, than best: Double) -> Bool {
        switch (mode, thresholdMode) {
        case (.min, .relative): return metric < best * (1 - threshold)
        case (.min, .absolute): return metric < best - threshold
        case (.max, .relative): return metric > best * (1 + threshold)
        case (.max, .absolute): return metric > best + threshold
        }
    }
}
