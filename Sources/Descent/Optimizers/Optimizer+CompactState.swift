import DescentSupport

/// Compact optimizer state (bfloat16 or 8-bit blockwise): choosing the format, its rules, and the
/// memory it takes. The kernels are in Sources/DescentSupport (compact_state.h has the formats).
extension Optimizer {
    /// Whether the 8-bit blockwise format supports `rule`: the Adam family, whose two slots are a
    /// signed first moment and a non-negative second moment (or Adamax's infinity norm).
    public static func int8Supports(_ rule: OptimizerRule) -> Bool {
        switch rule {
        case .adam, .adamw, .adamax, .nadam, .radam: return true
        default: return false
        }
    }

    /// Throws when `format` cannot hold the state of `hyper` (8-bit with AMSGrad's third slot).
    func checkStateFormat(_ format: StateFormat, allows hyper: Hyperparameters, _ what: String) throws(DescentError) {
        if format == .int8Blockwise, hyper.flags.contains(.amsgrad) {
            throw .argument("\(what) turns on AMSGrad, which int8 blockwise state does not support (use bfloat16 or full state)")
        }
    }

    /// Chooses how state is stored, before the first step (step count 0): `.full` (the param's
    /// dtype), `.bfloat16` (every rule; `rounding` nearest even or stochastic from `seed`) or
    /// `.int8Blockwise` (Adam, AdamW, Adamax, NAdam, RAdam; nearest rounding; no AMSGrad).
    /// Compact formats need float32 params (a float64 param is a `.dtype` error). State already
    /// allocated is converted (its values rounded to the new format); params added later get
    /// state in the chosen format. On error nothing changed.
    public func setStateFormat(_ format: StateFormat, rounding: StateRounding = .nearestEven,
                               seed: UInt64 = 0) throws(DescentError) {
        try lock.withLock { _ throws(DescentError) in
            guard stepCount == 0 else {
                throw .argument("the state format is chosen before the first step (this optimizer has taken \(stepCount)); reset_state or a new optimizer first")
            }
            if format != .full, let index = parameters.firstIndex(where: { $0.tensor.dtype != .float32 }) {
                throw .dtype("param \(index) is \(parameters[index].tensor.dtype): \(format) optimizer state needs float32 params")
            }
            if format == .int8Blockwise {
                guard Self.int8Supports(rule) else {
                    throw .argument("int8 blockwise state is for the Adam family (adam, adamw, adamax, nadam, radam), not \(rule); use bfloat16")
                }
                guard rounding == .nearestEven else {
                    throw .argument("int8 blockwise state rounds to nearest; stochastic rounding is for bfloat16 state")
                }
                try checkStateFormat(format, allows: defaults, "the defaults' amsgrad")
                for group in groups { try checkStateFormat(format, allows: group.hyper, "a group's amsgrad") }
            }
            // Convert every allocated slot (all new buffers first, then commit).
            var converted: [(parameter: Parameter, state: [Tensor?], compact: [CompactBuffer?])] = []
            for parameter in parameters where format != stateFormat {
                var state: [Tensor?] = Array(repeating: nil, count: rule.stateSlotCount)
                var compact: [CompactBuffer?] = Array(repeating: nil, count: rule.stateSlotCount)
                for slot in 0..<rule.stateSlotCount where parameter.hasSlot(slot) {
                    let tensor = parameter.tensor
                    // The slot's values as float32 (or as the param's dtype for full state).
                    let values = try Tensor.zeros(dtype: tensor.dtype, shape: tensor.shape)
                    if let old = parameter.state[slot] {
                        values.storage.copyMemory(from: old.storage, byteCount: old.byteCount)
                    } else if let old = parameter.compact[slot] {
                        old.decode(into: values.storage.assumingMemoryBound(to: Float.self))
                    }
                    if format == .full {
                        state[slot] = values
                    } else {
                        compact[slot] = try CompactBuffer.encoding(values.storage.assumingMemoryBound(to: Float.self),
                                                                   count: tensor.count, format: format, signed: slot == 0)
                    }
                }
                converted.append((parameter, state, compact))
            }
            for entry in converted {
                entry.parameter.state = entry.state
                entry.parameter.compact = entry.compact
            }
            stateFormat = format
            stateRounding = format == .bfloat16 ? rounding : .nearestEven
            stateSeed = format == .bfloat16 ? seed : 0
            piecesValid = false
            plans = []
        }
    }

    /// (format, rounding, seed), read under the lock.
    public var stateFormatSettings: (format: StateFormat, rounding: StateRounding, seed: UInt64) {
        get throws(DescentError) { try lock.withLock { _ in (stateFormat, stateRounding, stateSeed) } }
    }
}

extension Optimizer {
    /// The update of elements `range` of one float32 param whose state is compact: bfloat16 slots
    /// (rounded to nearest even, or stochastically with keys from (seed, step, param, slot)) or the
    /// 8-bit slots 0 and 1 (`range` starts on a block boundary: the split is block-aligned).
    @inline(__always)
    static func updateCompact(_ piece: Piece, _ range: Range<Int>, _ plan: UnsafePointer<dsupport_step_plan>,
                              format: StateFormat, stochastic: Bool, seed: UInt64, step: Int64) {
        let begin = Int64(range.lowerBound), end = Int64(range.upperBound)
        let param = piece.param.assumingMemoryBound(to: Float.self)
        let grad = UnsafePointer(piece.grad.assumingMemoryBound(to: Float.self))
        if format == .int8Blockwise {
            dsupport_step_q8(plan, param, grad, piece.slot0?.assumingMemoryBound(to: UInt8.self), piece.scale0,
                             piece.slot1?.assumingMemoryBound(to: UInt8.self), piece.scale1, begin, end)
            return
        }
        let s0 = piece.slot0?.assumingMemoryBound(to: UInt16.self)
        let s1 = piece.slot1?.assumingMemoryBound(to: UInt16.self)
        let s2 = piece.slot2?.assumingMemoryBound(to: UInt16.self)
        guard stochastic else {
            dsupport_step_bf16(plan, 0, param, grad, s0, s1, s2, begin, end)
            return
        }
        var local = plan.pointee
        let index = Int64(piece.index)
        local.keys = (dsupport_rounding_key(seed, step, index, 0), dsupport_rounding_key(seed, step, index, 1),
                      dsupport_rounding_key(seed, step, index, 2))
        dsupport_step_bf16(&local, 1, param, grad, s0, s1, s2, begin, end)
    }
}
