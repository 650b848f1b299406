/// The update rules Descent implements. Raw values are the C ABI's `DESCENT_RULE_*` constants.
/// Each rule's formula is written once, on its kernel (`Kernels+*.swift` in this folder).
public enum OptimizerRule: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case sgd = 1
    case adagrad = 2
    case adadelta = 3
    case rmsprop = 4
    case adam = 5
    case adamw = 6
    case adamax = 7
    case nadam = 8
    case radam = 9
    case lion = 10

    /// The case for a raw value from the C ABI; `.invalidArgument` for an unknown one.
    public init(checking raw: Int32) throws(DescentError) {
        guard let rule = OptimizerRule(rawValue: raw) else {
            throw .argument("unknown optimizer rule \(raw) (expected 1 ... 10)")
        }
        self = rule
    }

    /// The rule's name as the Python classes spell it (`optim.SGD`, `optim.RMSprop`, ...).
    public var description: String {
        switch self {
        case .sgd: return "SGD"
        case .adagrad: return "Adagrad"
        case .adadelta: return "Adadelta"
        case .rmsprop: return "RMSprop"
        case .adam: return "Adam"
        case .adamw: return "AdamW"
        case .adamax: return "Adamax"
        case .nadam: return "NAdam"
        case .radam: return "RAdam"
        case .lion: return "Lion"
        }
    }

    /// How many per-element state buffers the rule can use (slots 0 ..< stateSlotCount).
    public var stateSlotCount: Int {
        switch self {
        case .sgd, .adagrad, .lion: return 1
        case .adadelta, .adamax, .nadam, .radam: return 2
        case .rmsprop, .adam, .adamw: return 3
        }
    }

    /// The state slot names, as the Python `state_dict` spells them.
    public func stateSlotName(_ slot: Int) -> String {
        let names: [String]
        switch self {
        case .sgd: names = ["momentum_buffer"]
        case .adagrad: names = ["sum"]
        case .adadelta: names = ["square_avg", "acc_delta"]
        case .rmsprop: names = ["square_avg", "grad_avg", "momentum_buffer"]
        case .adam, .adamw: names = ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
        case .adamax: names = ["exp_avg", "exp_inf"]
        case .nadam, .radam: names = ["exp_avg", "exp_avg_sq"]
        case .lion: names = ["exp_avg"]
        }
        return slot >= 0 && slot < names.count ? names[slot] : "slot\(slot)"
    }

    /// The flags the rule understands; any other bit is an error.
    public var allowedFlags: OptimizerFlags {
        switch self {
        case .sgd: return [.maximize, .decoupledWeightDecay, .nesterov, .exponentialAverageMomentum,
                           .cs231nMomentum, .checkFinite]
        case .adagrad: return [.maximize, .decoupledWeightDecay, .epsilonInsideSqrt, .checkFinite]
        case .adadelta: return [.maximize, .decoupledWeightDecay, .checkFinite]
        case .rmsprop: return [.maximize, .decoupledWeightDecay, .epsilonInsideSqrt, .centered, .checkFinite]
        case .adam, .adamw: return [.maximize, .decoupledWeightDecay, .epsilonInsideSqrt, .noBiasCorrection,
                                    .amsgrad, .checkFinite]
        case .adamax: return [.maximize, .decoupledWeightDecay, .noBiasCorrection, .checkFinite]
        case .nadam, .radam: return [.maximize, .decoupledWeightDecay, .checkFinite]
        case .lion: return [.maximize, .decoupledWeightDecay, .checkFinite]
        }
    }

    /// Whether state slot `slot` is needed under `hyper` (so it is allocated and updated).
    public func needsSlot(_ slot: Int, _ hyper: Hyperparameters) -> Bool {
        switch (self, slot) {
        case (.sgd, 0): return hyper.momentum != 0
        case (.rmsprop, 0): return true
        case (.rmsprop, 1): return hyper.flags.contains(.centered)
        case (.rmsprop, 2): return hyper.momentum != 0
        case (.adam, 2), (.adamw, 2): return hyper.flags.contains(.amsgrad)
        default: return slot >= 0 && slot < stateSlotCount
        }
    }

    /// The value a freshly allocated state slot starts from.
    public func initialValue(slot: Int, _ hyper: Hyperparameters) -> Double {
        self == .adagrad && slot == 0 ? hyper.initialAccumulatorValue : 0
    }
}

/// Options of an update, as the C ABI's `DESCENT_OPT_*` bits.
public struct OptimizerFlags: OptionSet, Sendable, Hashable {
    /// The flag bits (the C ABI's `DESCENT_OPT_*`).
    public let rawValue: Int32
    /// Flags from their bits.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// Ascend instead of descend: the gradient is negated first.
    public static let maximize = OptimizerFlags(rawValue: 1)
    /// Weight decay as `W := W (1 - lr λ)` before the update instead of `g += λ W`.
    public static let decoupledWeightDecay = OptimizerFlags(rawValue: 2)
    /// `sqrt(v + ε)` instead of `sqrt(v) + ε` in the denominator.
    public static let epsilonInsideSqrt = OptimizerFlags(rawValue: 4)
    /// Adam/AdamW/Adamax without the `1 - β^t` bias corrections.
    public static let noBiasCorrection = OptimizerFlags(rawValue: 8)
    /// SGD: Nesterov momentum (PyTorch form).
    public static let nesterov = OptimizerFlags(rawValue: 16)
    /// Adam/AdamW: AMSGrad (running maximum of the second moment).
    public static let amsgrad = OptimizerFlags(rawValue: 32)
    /// RMSprop: centered (subtract the squared running mean of the gradient).
    public static let centered = OptimizerFlags(rawValue: 64)
    /// SGD: the deeplearning.ai notes' exponentially weighted average `v = βv + (1-β)g; W -= lr v`.
    public static let exponentialAverageMomentum = OptimizerFlags(rawValue: 128)
    /// SGD: cs231n's `v = μv - lr g; W += v`.
    public static let cs231nMomentum = OptimizerFlags(rawValue: 256)
    /// Functional steps only: fail with `.nonFinite` before touching anything if a gradient
    /// element is NaN or infinite.
    public static let checkFinite = OptimizerFlags(rawValue: 512)

    /// Every flag.
    public static let all: OptimizerFlags = OptimizerFlags(rawValue: 1023)
}
