import DescentSupport
import Synchronization

/// What `Optimizer.step()` does when a gradient holds NaN or ±infinity. Raw values are the C
/// ABI's `DESCENT_NONFINITE_*` constants.
public enum NonFinitePolicy: Int32, Sendable {
    /// Fail with `.nonFinite`; parameters, state and the step count stay as they were (default).
    case raise = 0
    /// Skip the step: parameters, state and the step count stay as they were; step reports it.
    case skip = 1
    /// Apply the update anyway (no check; NaN spreads into parameters and state).
    case proceed = 2

    /// The case for a raw value from the C ABI; `.invalidArgument` for an unknown one.
    public init(checking raw: Int32) throws(DescentError) {
        guard let policy = NonFinitePolicy(rawValue: raw) else {
            throw .argument("unknown non-finite policy \(raw) (0 raise, 1 skip, 2 proceed)")
        }
        self = policy
    }
}

/// A stateful optimizer over parameter groups: many parameter tensors (usually wrapping the
/// caller's memory), each group with its own hyper-parameters, the rule's state tensors per
/// parameter, one step count `t` (1 on the first update) and bound gradient tensors.
/// `step()` updates every parameter of every group in one call.
/// C counterpart: `descent_optimizer`.
public final class Optimizer {
    /// A parameter group: its hyper-parameters and members.
    public struct Group: Sendable {
        /// The group's hyper-parameters.
        public var hyper: Hyperparameters
        /// NAdam's running product Π of the momentum schedule (1 for other rules).
        public var muProduct: Double = 1
        /// Indices into `parameters`.
        public var members: Range<Int>
        /// The learning rate the group had when a schedule first drove it (PyTorch's
        /// `initial_lr`): later schedules are checked against, or rebased to, this rate rather
        /// than the rate an earlier schedule left behind. nil until then.
        public internal(set) var initialLearningRate: Double? = nil
    }

    /// One registered parameter and its state.
    public final class Parameter {
        /// The parameter, updated in place.
        public let tensor: Tensor
        /// The index of its group.
        public let group: Int
        /// The rule's state slots; nil where the current settings do not need the slot yet, and
        /// always nil under a compact `stateFormat` (the slots live in `compact` then).
        public internal(set) var state: [Tensor?]
        /// The state slots under a compact `stateFormat` (bfloat16 or 8-bit); all nil under `.full`.
        public internal(set) var compact: [CompactBuffer?]
        init(tensor: Tensor, group: Int, slots: Int) {
            self.tensor = tensor
            self.group = group
            self.state = Array(repeating: nil, count: slots)
            self.compact = Array(repeating: nil, count: slots)
        }

        /// Whether slot `slot` is allocated (in either form).
        func hasSlot(_ slot: Int) -> Bool { state[slot] != nil || compact[slot] != nil }
    }

    /// The update rule.
    public let rule: OptimizerRule
    /// The hyper-parameters new groups start from.
    public internal(set) var defaults: Hyperparameters
    /// The parameter groups in order.
    public internal(set) var groups: [Group] = []
    /// Every parameter of every group, in order.
    public internal(set) var parameters: [Parameter] = []
    /// Updates applied so far (the next one uses t = stepCount + 1).
    public internal(set) var stepCount: Int64 = 0
    /// What `step()` does with NaN or infinite gradients.
    public internal(set) var nonFinitePolicy: NonFinitePolicy = .raise
    /// How state is stored (`setStateFormat`): the param dtype by default.
    public internal(set) var stateFormat: StateFormat = .full
    /// How bfloat16 state is rounded.
    public internal(set) var stateRounding: StateRounding = .nearestEven
    /// The seed of stochastic rounding.
    public internal(set) var stateSeed: UInt64 = 0
    /// Gradients bound by `bindGradients`, one per parameter, in parameter order.
    var gradients: [Tensor] = []
    /// Incremented by every `bindGradients` (a trainer rebinds when someone else bound).
    public internal(set) var bindingGeneration: UInt64 = 0
    /// offsets[i] = elements in parameters[0 ..< i]; offsets.count == parameters.count + 1.
    var offsets: [Int] = [0]
    /// Per-group plans, rebuilt in place each step (no allocation once sized).
    var plans: [StepPlan] = []
    /// The same plans in the C kernels' form (Sources/DescentSupport/step_kernels_type.h).
    var kernelPlans: [dsupport_step_plan] = []
    /// Raw pointers per parameter for the step loop (no reference counting per tensor per step);
    /// rebuilt on the first step after anything that changes tensors (`piecesValid = false`).
    var pieces: [Piece] = []
    var piecesValid = false
    /// Each param's start in the element range split over threads (offsets, padded to whole
    /// 8-bit blocks under int8 state) and the split's alignment; rebuilt with `pieces`.
    var chunkOffsets: [Int] = [0]
    var chunkAlignment = 64
    /// Serializes every call on one optimizer (ctypes releases the GIL: threads may race). Fork-aware:
    /// in a child made by fork() while another thread was inside a call, every call throws
    /// `.unsupported` instead of trapping.
    let lock = ForkAwareMutex((), owner: "optimizer")

    /// An optimizer of `rule` with PyTorch's defaults and no parameters yet.
    public init(rule: OptimizerRule) {
        self.rule = rule
        self.defaults = Hyperparameters.defaults(for: rule)
    }

    /// The total number of parameter elements.
    public var elementCount: Int { offsets.last ?? 0 }

    /// Adds a group of parameters with the current defaults; returns its index. Every tensor
    /// must be distinct and not already registered. State slots are allocated (no allocation
    /// happens later inside `step`). Bound gradients are dropped (bind again for the new set).
    public func addGroup(_ tensors: [Tensor]) throws(DescentError) -> Int {
        try lock.withLock { _ throws(DescentError) -> Int in
            for (index, tensor) in tensors.enumerated() {
                for other in tensors[..<index] where overlaps(other, tensor) {
                    throw .argument("param \(index) shares memory with an earlier param of the group")
                }
                for registered in parameters where overlaps(registered.tensor, tensor) {
                    throw .argument("param \(index) shares memory with a param already registered")
                }
            }
            let group = groups.count
            if stateFormat != .full, let index = tensors.firstIndex(where: { $0.dtype != .float32 }) {
                throw .dtype("param \(index) is \(tensors[index].dtype): \(stateFormat) optimizer state needs float32 params")
            }
            var added: [Parameter] = []
            for tensor in tensors {
                let parameter = Parameter(tensor: tensor, group: group, slots: rule.stateSlotCount)
                try allocateState(parameter, defaults)
                added.append(parameter)
            }
            let start = parameters.count
            groups.append(Group(hyper: defaults, members: start..<(start + added.count)))
            for parameter in added {
                parameters.append(parameter)
                offsets.append((offsets.last ?? 0) + parameter.tensor.count)
            }
            plans = []
            gradients = []
            bindingGeneration &+= 1
            piecesValid = false
            return group
        }
    }

    /// Allocates the slots `hyper` needs that `parameter` lacks, filled with their initial value.
    func allocateState(_ parameter: Parameter, _ hyper: Hyperparameters) throws(DescentError) {
        for slot in 0..<rule.stateSlotCount where !parameter.hasSlot(slot) && rule.needsSlot(slot, hyper) {
            let initial = rule.initialValue(slot: slot, hyper)
            if stateFormat == .full {
                parameter.state[slot] = try Tensor.full(initial, dtype: parameter.tensor.dtype, shape: parameter.tensor.shape)
            } else {
                parameter.compact[slot] = try CompactBuffer.filled(Float(initial), count: parameter.tensor.count,
                                                                   format: stateFormat, signed: slot == 0)
            }
            piecesValid = false
        }
    }

    /// Reads a hyper-parameter of group `group`, or of the defaults for new groups when `group == -1`.
    public func hyperparameter(group: Int, _ key: HyperparameterKey) throws(DescentError) -> Double {
        try lock.withLock { _ throws(DescentError) -> Double in
            guard Hyperparameters.keys(for: rule).contains(key) else {
                throw .argument("\(rule) has no hyper-parameter '\(key.name)'")
            }
            return try hyperSet(group)[key]
        }
    }

    private func hyperSet(_ group: Int) throws(DescentError) -> Hyperparameters {
        if group == -1 { return defaults }
        guard group >= 0, group < groups.count else {
            throw .argument("group \(group) does not exist (the optimizer has \(groups.count); -1 means defaults)")
        }
        return groups[group].hyper
    }

    /// Sets a hyper-parameter of group `group` (or the defaults with -1); it applies from the
    /// next step. State slots the new setting needs are allocated now. On error nothing changed.
    public func setHyperparameter(group: Int, _ key: HyperparameterKey, _ value: Double) throws(DescentError) {
        try lock.withLock { _ throws(DescentError) in
            let updated = try hyperSet(group).setting(key, value, for: rule)
            try checkStateFormat(stateFormat, allows: updated, "this setting")
            if group == -1 { defaults = updated; return }
            // Allocate every slot the new setting needs first; commit only when all succeeded,
            // so an allocation failure leaves no half-allocated state behind.
            var allocated: [(parameter: Parameter, slot: Int, tensor: Tensor?, compact: CompactBuffer?)] = []
            for index in groups[group].members {
                let parameter = parameters[index]
                for slot in 0..<rule.stateSlotCount where !parameter.hasSlot(slot) && rule.needsSlot(slot, updated) {
                    let initial = rule.initialValue(slot: slot, updated)
                    if stateFormat == .full {
                        let tensor = try Tensor.full(initial, dtype: parameter.tensor.dtype, shape: parameter.tensor.shape)
                        allocated.append((parameter, slot, tensor, nil))
                    } else {
                        let buffer = try CompactBuffer.filled(Float(initial), count: parameter.tensor.count,
                                                              format: stateFormat, signed: slot == 0)
                        allocated.append((parameter, slot, nil, buffer))
                    }
                }
            }
            for entry in allocated {
                if let tensor = entry.tensor { entry.parameter.state[entry.slot] = tensor }
                if let buffer = entry.compact { entry.parameter.compact[entry.slot] = buffer }
            }
            if !allocated.isEmpty { piecesValid = false }
            groups[group].hyper = updated
        }
    }

    /// Sets what `step()` does with NaN or infinite gradients.
    public func setNonFinitePolicy(_ policy: NonFinitePolicy) throws(DescentError) {
        try lock.withLock { _ in nonFinitePolicy = policy }
    }

    /// Sets the step count (the next update uses t = count + 1).
    public func setStepCount(_ count: Int64) throws(DescentError) {
        guard count >= 0 else { throw .argument("step count must be >= 0, got \(count)") }
        try lock.withLock { _ in stepCount = count }
    }

    /// Sets NAdam's running product Π of a group (restoring a checkpoint).
    public func setMuProduct(group: Int, _ value: Double) throws(DescentError) {
        try lock.withLock { _ throws(DescentError) in
            _ = try hyperSet(group)
            guard group >= 0 else { throw .argument("mu_product belongs to a group, not to the defaults") }
            guard value.isFinite, value > 0, value <= 1 else { throw .argument("mu_product must be in (0, 1], got \(value)") }
            groups[group].muProduct = value
        }
    }

    /// NAdam's running product Π of a group.
    public func muProduct(group: Int) throws(DescentError) -> Double {
        try lock.withLock { _ throws(DescentError) -> Double in
            _ = try hyperSet(group)
            guard group >= 0 else { throw .argument("mu_product belongs to a group, not to the defaults") }
            return groups[group].muProduct
        }
    }

    func parameter(_ index: Int) throws(DescentError) -> Parameter {
        guard index >= 0, index < parameters.count else {
            throw .argument("param \(index) does not exist (the optimizer holds \(parameters.count))")
        }
        return parameters[index]
    }

    func checkSlot(_ slot: Int) throws(DescentError) {
        guard slot >= 0, slot < rule.stateSlotCount else {
            throw .argument("\(rule) has state slots 0 ..< \(rule.stateSlotCount), not \(slot)")
        }
    }

    /// Whether state slot `slot` of parameter `index` is allocated.
    public func hasState(parameter index: Int, slot: Int) throws(DescentError) -> Bool {
        try lock.withLock { _ throws(DescentError) -> Bool in
            try checkSlot(slot)
            return try parameter(index).hasSlot(slot)
        }
    }

    /// Copies state slot `slot` of parameter `index` out (it must be allocated).
    public func readState(parameter index: Int, slot: Int, into destination: UnsafeMutableRawPointer,
                          capacity: Int, dtype: DType) throws(DescentError) {
        try lock.withLock { _ throws(DescentError) in
            try checkSlot(slot)
            let owner = try parameter(index)
            if let buffer = owner.compact[slot] {
                // Compact state reads back as float32 (the values the next step will use).
                guard dtype == .float32 else { throw .dtype("\(stateFormat) state reads as float32, not \(dtype)") }
                guard capacity >= buffer.count else {
                    throw DescentError(.bufferTooSmall, "buffer holds \(capacity) elements, the state has \(buffer.count)")
                }
                buffer.decode(into: destination.assumingMemoryBound(to: Float.self))
                return
            }
            guard let state = owner.state[slot] else {
                throw .argument("\(rule.stateSlotName(slot)) of param \(index) is not allocated under the current settings")
            }
            try state.copy(to: destination, capacity: capacity, dtype: dtype)
        }
    }

    /// Overwrites state slot `slot` of parameter `index` (allocating it if needed).
    public func writeState(parameter index: Int, slot: Int, from source: UnsafeRawPointer,
                           count: Int, dtype: DType) throws(DescentError) {
        try lock.withLock { _ throws(DescentError) in
            try checkSlot(slot)
            let owner = try parameter(index)
            guard dtype == owner.tensor.dtype else { throw .dtype("state is \(dtype), param is \(owner.tensor.dtype)") }
            guard count == owner.tensor.count else {
                throw .shape("state has \(count) elements, param \(index) has \(owner.tensor.count)")
            }
            if stateFormat != .full {
                // Compact state: the float32 values are rounded to the format (a new buffer,
                // swapped in only once it is complete).
                let buffer = try CompactBuffer.encoding(source.assumingMemoryBound(to: Float.self), count: count,
                                                        format: stateFormat, signed: slot == 0)
                owner.compact[slot] = buffer
                piecesValid = false
                return
            }
            let target: Tensor
            if let existing = owner.state[slot] {
                target = existing
            } else {
                target = try Tensor.zeros(dtype: dtype, shape: owner.tensor.shape)
            }
            try target.assign(from: source, count: count, dtype: dtype)
            owner.state[slot] = target
            piecesValid = false
        }
    }
}

extension Optimizer {
    /// Puts every allocated state slot back to its initial value, the step count to 0 and NAdam's
    /// running product to 1, as if no step had been taken (random restarts). Hyper-parameters
    /// and bound gradients stay. C counterpart: `descent_optimizer_reset`.
    public func resetState() throws(DescentError) {
        try lock.withLock { _ in
            for parameter in parameters {
                let hyper = groups[parameter.group].hyper
                for (slot, state) in parameter.state.enumerated() {
                    guard let state else { continue }
                    state.fill(rule.initialValue(slot: slot, hyper))
                }
                for (slot, buffer) in parameter.compact.enumerated() {
                    buffer?.fill(Float(rule.initialValue(slot: slot, hyper)))
                }
            }
            for index in groups.indices { groups[index].muProduct = 1 }
            stepCount = 0
        }
    }

    /// A copy of everything a step changes (state slots, step count, running products, learning
    /// rates), to undo experiments such as the learning-rate range test.
    public final class Snapshot {
        let state: [[Tensor?]]
        let compact: [[CompactBuffer?]]
        let stepCount: Int64
        let groups: [Group]
        init(state: [[Tensor?]], compact: [[CompactBuffer?]], stepCount: Int64, groups: [Group]) {
            self.state = state
            self.compact = compact
            self.stepCount = stepCount
            self.groups = groups
        }
    }

    /// A copy of the complete state (hyper-parameters, step count, state buffers), for `restore`.
    public func snapshot() throws(DescentError) -> Snapshot {
        try lock.withLock { _ throws(DescentError) -> Snapshot in
            var copies: [[Tensor?]] = []
            var compactCopies: [[CompactBuffer?]] = []
            for parameter in parameters {
                var slots: [Tensor?] = []
                for state in parameter.state { slots.append(try state?.copy()) }
                copies.append(slots)
                var compactSlots: [CompactBuffer?] = []
                for buffer in parameter.compact { compactSlots.append(try buffer?.copy()) }
                compactCopies.append(compactSlots)
            }
            return Snapshot(state: copies, compact: compactCopies, stepCount: stepCount, groups: groups)
        }
    }

    /// Restores a snapshot taken from this optimizer (same parameters and slots).
    public func restore(_ snapshot: Snapshot) throws(DescentError) {
        try lock.withLock { _ in
            for (index, parameter) in parameters.enumerated() where index < snapshot.state.count {
                for (slot, copy) in snapshot.state[index].enumerated() {
                    guard let copy, let target = parameter.state[slot], target.count == copy.count else { continue }
                    target.storage.copyMemory(from: copy.storage, byteCount: copy.byteCount)
                }
                if index < snapshot.compact.count {
                    for (slot, copy) in snapshot.compact[index].enumerated() {
                        guard let copy, let target = parameter.compact[slot] else { continue }
                        target.copyContents(from: copy)
                    }
                }
            }
            stepCount = snapshot.stepCount
            if snapshot.groups.count == groups.count { groups = snapshot.groups }
            plans = []
        }
    }

    /// Sets the learning rate of every group (a schedule's value for this step).
    func setLearningRateOfAllGroups(_ value: Double) throws(DescentError) {
        guard value.isFinite, value >= 0 else { throw .argument("the schedule gave learning rate \(value); it must be finite and >= 0") }
        try lock.withLock { _ in
            for index in groups.indices { groups[index].hyper.learningRate = value }
        }
    }

    /// Each group's `initialLearningRate`, recorded from its current learning rate the first time
    /// (PyTorch's `group.setdefault("initial_lr", group["lr"])`).
    func initialLearningRates() throws(DescentError) -> [Double] {
        try lock.withLock { _ in
            for index in groups.indices where groups[index].initialLearningRate == nil {
                groups[index].initialLearningRate = groups[index].hyper.learningRate
            }
            return groups.map { $0.initialLearningRate ?? $0.hyper.learningRate }
        }
    }

    /// The hyper-parameter a momentum-cycling schedule drives for `rule`, as PyTorch's OneCycleLR
    /// picks it: beta1 for the rules with betas (Adam, AdamW, Adamax, NAdam, RAdam, Lion), else
    /// momentum (SGD, RMSprop). Adagrad and Adadelta have neither: `.invalidArgument`.
    public static func cycledMomentumKey(for rule: OptimizerRule) throws(DescentError) -> HyperparameterKey {
        switch rule {
        case .sgd, .rmsprop: return .momentum
        case .adam, .adamw, .adamax, .nadam, .radam, .lion: return .beta1
        case .adagrad, .adadelta:
            throw .argument("the schedule cycles momentum, but \(rule) has neither momentum nor beta1; make the one-cycle schedule without momentum cycling (descent_schedule_new_one_cycle, Python cycle_momentum=False)")
        }
    }

    /// Sets each group's learning rate (one value per group) and, with `momentum`, every group's
    /// momentum (SGD, RMSprop) or beta1 (the rules with betas): a schedule's values for this step.
    /// The values and the group count are validated and every state slot the new momentum needs
    /// is allocated before anything changes.
    /// Returns every group's settings from before, for `restoreGroupSettings` when the step the
    /// values were for does not happen.
    @discardableResult
    func applySchedule(learningRates: [Double], momentum: Double?) throws(DescentError) -> [Hyperparameters] {
        for value in learningRates where !(value.isFinite && value >= 0) {
            throw .argument("the schedule gave learning rate \(value); it must be finite and >= 0")
        }
        return try lock.withLock { _ throws(DescentError) -> [Hyperparameters] in
            guard learningRates.count == groups.count else {
                throw .argument("the schedule was set for \(learningRates.count) optimizer groups, the optimizer now has \(groups.count); set the schedule again")
            }
            let previous = groups.map { $0.hyper }
            var updated = groups.map { $0.hyper }
            if let momentum {
                let key = try Self.cycledMomentumKey(for: rule)
                for index in updated.indices { updated[index] = try updated[index].setting(key, momentum, for: rule) }
            }
            var allocated: [(parameter: Parameter, slot: Int, tensor: Tensor)] = []
            for (index, group) in groups.enumerated() {
                for member in group.members {
                    let parameter = parameters[member]
                    for slot in 0..<rule.stateSlotCount where parameter.state[slot] == nil && rule.needsSlot(slot, updated[index]) {
                        allocated.append((parameter, slot, try Tensor.full(rule.initialValue(slot: slot, updated[index]),
                                                                           dtype: parameter.tensor.dtype, shape: parameter.tensor.shape)))
                    }
                }
            }
            for entry in allocated { entry.parameter.state[entry.slot] = entry.tensor }
            if !allocated.isEmpty { piecesValid = false }
            for index in groups.indices {
                updated[index].learningRate = learningRates[index]
                groups[index].hyper = updated[index]
            }
            return previous
        }
    }

    /// Puts back the settings `applySchedule` returned (state slots it allocated stay: they hold
    /// their initial values and are what the settings will need again).
    func restoreGroupSettings(_ settings: [Hyperparameters]) throws(DescentError) {
        try lock.withLock { _ in
            guard settings.count == groups.count else { return }
            for index in groups.indices { groups[index].hyper = settings[index] }
        }
    }

    /// The learning rate of every group.
    func learningRates() throws(DescentError) -> [Double] {
        try lock.withLock { _ in groups.map { $0.hyper.learningRate } }
    }

    func setLearningRates(_ values: [Double]) throws(DescentError) {
        try lock.withLock { _ in
            for index in groups.indices where index < values.count { groups[index].hyper.learningRate = values[index] }
        }
    }

    /// (groups, parameters, step count, policy), read under the lock.
    public var summary: (groups: Int, parameters: Int, stepCount: Int64, policy: NonFinitePolicy) {
        get throws(DescentError) {
            try lock.withLock { _ in (groups.count, parameters.count, stepCount, nonFinitePolicy) }
        }
    }
}

/// Whether two tensors' element memory overlaps (the same tensor, or two wraps of one buffer).
func overlaps(_ a: Tensor, _ b: Tensor) -> Bool {
    if a === b { return true }
    if a.byteCount == 0 || b.byteCount == 0 { return false }
    let aStart = UInt(bitPattern: a.storage), bStart = UInt(bitPattern: b.storage)
    return aStart < bStart + UInt(b.byteCount) && bStart < aStart + UInt(a.byteCount)
}
