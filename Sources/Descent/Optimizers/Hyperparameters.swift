/// Names of hyper-parameters, as the C ABI's `DESCENT_HYPER_*` constants.
public enum HyperparameterKey: Int32, Sendable, CaseIterable {
    case learningRate = 1
    case momentum = 2
    case dampening = 3
    case beta1 = 4
    case beta2 = 5
    case alpha = 6
    case rho = 7
    case epsilon = 8
    case weightDecay = 9
    case learningRateDecay = 10
    case initialAccumulatorValue = 11
    case momentumDecay = 12
    case flags = 13

    /// The case for a raw value from the C ABI; `.invalidArgument` for an unknown one.
    public init(checking raw: Int32) throws(DescentError) {
        guard let key = HyperparameterKey(rawValue: raw) else {
            throw .argument("unknown hyper-parameter key \(raw) (expected 1 ... 13)")
        }
        self = key
    }

    /// The Python spelling (a `param_groups` dict key).
    public var name: String {
        switch self {
        case .learningRate: return "lr"
        case .momentum: return "momentum"
        case .dampening: return "dampening"
        case .beta1: return "beta1"
        case .beta2: return "beta2"
        case .alpha: return "alpha"
        case .rho: return "rho"
        case .epsilon: return "eps"
        case .weightDecay: return "weight_decay"
        case .learningRateDecay: return "lr_decay"
        case .initialAccumulatorValue: return "initial_accumulator_value"
        case .momentumDecay: return "momentum_decay"
        case .flags: return "flags"
        }
    }
}

/// Every hyper-parameter of every rule; each rule reads the ones it lists in `keys(for:)`.
/// Defaults per rule are PyTorch's `torch.optim` defaults (Lion: the paper's).
public struct Hyperparameters: Sendable, Equatable {
    /// lr.
    public var learningRate: Double = 1e-3
    /// SGD and RMSprop momentum μ.
    public var momentum: Double = 0
    /// SGD dampening τ.
    public var dampening: Double = 0
    /// β1 of the Adam family and Lion.
    public var beta1: Double = 0.9
    /// β2 of the Adam family and Lion.
    public var beta2: Double = 0.999
    /// RMSprop smoothing α.
    public var alpha: Double = 0.99
    /// Adadelta ρ.
    public var rho: Double = 0.9
    /// ε added for numerical stability.
    public var epsilon: Double = 1e-8
    /// Weight decay λ (L2 in the gradient, or decoupled with `.decoupledWeightDecay`).
    public var weightDecay: Double = 0
    /// Adagrad lr_decay.
    public var learningRateDecay: Double = 0
    /// Adagrad's initial sum.
    public var initialAccumulatorValue: Double = 0
    /// NAdam ψ.
    public var momentumDecay: Double = 4e-3
    /// Options (`OptimizerFlags`).
    public var flags: OptimizerFlags = []

    /// Every field at its general default; use `defaults(for:)` for a rule's PyTorch defaults.
    public init() {}

    /// PyTorch's defaults for `rule` (Lion: lr 1e-4, betas (0.9, 0.99), decoupled weight decay).
    public static func defaults(for rule: OptimizerRule) -> Hyperparameters {
        var hyper = Hyperparameters()
        switch rule {
        case .sgd: hyper.learningRate = 1e-3
        case .adagrad: hyper.learningRate = 1e-2; hyper.epsilon = 1e-10
        case .adadelta: hyper.learningRate = 1.0; hyper.epsilon = 1e-6
        case .rmsprop: hyper.learningRate = 1e-2
        case .adam, .radam: hyper.learningRate = 1e-3
        case .adamw: hyper.learningRate = 1e-3; hyper.weightDecay = 1e-2
        case .adamax, .nadam: hyper.learningRate = 2e-3
        case .lion: hyper.learningRate = 1e-4; hyper.beta2 = 0.99; hyper.flags = .decoupledWeightDecay
        }
        return hyper
    }

    /// The keys `rule` reads (setting any other key is an error).
    public static func keys(for rule: OptimizerRule) -> [HyperparameterKey] {
        switch rule {
        case .sgd: return [.learningRate, .momentum, .dampening, .weightDecay, .flags]
        case .adagrad: return [.learningRate, .learningRateDecay, .weightDecay, .initialAccumulatorValue,
                               .epsilon, .flags]
        case .adadelta: return [.learningRate, .rho, .epsilon, .weightDecay, .flags]
        case .rmsprop: return [.learningRate, .alpha, .epsilon, .weightDecay, .momentum, .flags]
        case .adam, .adamw, .adamax, .radam: return [.learningRate, .beta1, .beta2, .epsilon, .weightDecay, .flags]
        case .nadam: return [.learningRate, .beta1, .beta2, .epsilon, .weightDecay, .momentumDecay, .flags]
        case .lion: return [.learningRate, .beta1, .beta2, .weightDecay, .flags]
        }
    }

    /// The field for `key` as a number (flags as their raw bits).
    public subscript(key: HyperparameterKey) -> Double {
        get {
            switch key {
            case .learningRate: return learningRate
            case .momentum: return momentum
            case .dampening: return dampening
            case .beta1: return beta1
            case .beta2: return beta2
            case .alpha: return alpha
            case .rho: return rho
            case .epsilon: return epsilon
            case .weightDecay: return weightDecay
            case .learningRateDecay: return learningRateDecay
            case .initialAccumulatorValue: return initialAccumulatorValue
            case .momentumDecay: return momentumDecay
            case .flags: return Double(flags.rawValue)
            }
        }
        set {
            switch key {
            case .learningRate: learningRate = newValue
            case .momentum: momentum = newValue
            case .dampening: dampening = newValue
            case .beta1: beta1 = newValue
            case .beta2: beta2 = newValue
            case .alpha: alpha = newValue
            case .rho: rho = newValue
            case .epsilon: epsilon = newValue
            case .weightDecay: weightDecay = newValue
            case .learningRateDecay: learningRateDecay = newValue
            case .initialAccumulatorValue: initialAccumulatorValue = newValue
            case .momentumDecay: momentumDecay = newValue
            case .flags: flags = OptimizerFlags(rawValue: Int32(exactly: newValue) ?? -1)
            }
        }
    }

    /// A copy with `key` set to `value`, checked for `rule` (the copy is validated as a whole).
    public func setting(_ key: HyperparameterKey, _ value: Double,
                        for rule: OptimizerRule) throws(DescentError) -> Hyperparameters {
        guard Self.keys(for: rule).contains(key) else {
            throw .argument("\(rule) has no hyper-parameter '\(key.name)'")
        }
        if key == .flags {
            guard let raw = Int32(exactly: value), raw >= 0 else {
                throw .argument("flags must be a non-negative integer, got \(value)")
            }
        }
        var copy = self
        copy[key] = value
        try copy.validate(for: rule)
        return copy
    }

    /// Throws unless every value `rule` reads is in its domain and the flags fit the rule.
    public func validate(for rule: OptimizerRule) throws(DescentError) {
        func require(_ ok: Bool, _ name: String, _ value: Double, _ domain: String) throws(DescentError) {
            guard value.isFinite else {
                throw DescentError(.nonFinite, "\(name) must be finite, got \(value)")
            }
            guard ok else { throw .argument("\(name) must be \(domain), got \(value)") }
        }
        for key in Self.keys(for: rule) where key != .flags {
            let value = self[key]
            switch key {
            case .beta1, .beta2:
                try require(value >= 0 && value < 1, key.name, value, "in [0, 1)")
            case .rho:
                try require(value >= 0 && value <= 1, key.name, value, "in [0, 1]")
            case .dampening:
                try require(value >= 0 && value <= 1, key.name, value, "in [0, 1]")
            default:
                try require(value >= 0, key.name, value, "non-negative")
            }
        }
        let unknown = flags.subtracting(rule.allowedFlags)
        guard unknown.isEmpty else {
            throw .argument("flags 0x\(String(unknown.rawValue, radix: 16)) are not options of \(rule)")
        }
        if rule == .sgd {
            let forms = [flags.contains(.nesterov), flags.contains(.exponentialAverageMomentum),
                         flags.contains(.cs231nMomentum)].filter { $0 }.count
            guard forms <= 1 else {
                throw .argument("sgd: nesterov, exponential-average and cs231n momentum are exclusive")
            }
            if flags.contains(.nesterov) {
                guard momentum > 0, dampening == 0 else {
                    throw .argument("sgd: nesterov momentum requires momentum > 0 and dampening = 0")
                }
            }
        }
    }
}
