import Descent

// C exports for learning-rate schedules (descent_schedule handles). Schedules are immutable:
// evaluating one never changes it. Each constructor validates every argument before creating
// anything and writes *out only on success.

/// Registers a freshly made schedule and writes its handle.
private func publishSchedule(_ out: UnsafeMutablePointer<UInt64>?,
                             _ make: () throws(DescentError) -> LearningRateSchedule) throws(DescentError) {
    let destination = try required(out, "out")
    let made = try make()
    destination.pointee = try handles.insert(made)
}

/// Looks up a schedule argument.
func schedule(_ handle: UInt64, _ role: String) throws(DescentError) -> LearningRateSchedule {
    try handles.lookup(handle, as: LearningRateSchedule.self, role: role)
}

/// Reads `count` int64 values (pointer may be NULL when count is 0); `copies`: how many arrays of
/// that size the call makes in all (the core sorts a copy of multi-step milestones).
private func readInt64s(_ pointer: UnsafePointer<Int64>?, _ count: Int64, _ name: String,
                        copies: Int = 1) throws(DescentError) -> [Int64] {
    let length = try readCount(count, "\(name) count")
    if length == 0 { return [] }
    let source = try required(pointer, name)
    try probeAllocation(Int64.self, count: length, copies: copies, name)
    return Array(UnsafeBufferPointer(start: source, count: length))
}

@c public func descent_schedule_new_constant(_ lr: Double, _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    exported("descent_schedule_new_constant") { () throws(DescentError) in
        try publishSchedule(out) { () throws(DescentError) in try .constant(lr) }
    }
}

@c public func descent_schedule_new_inverse_time(_ initialLR: Double, _ decayRate: Double,
                                                 _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    exported("descent_schedule_new_inverse_time") { () throws(DescentError) in
        try publishSchedule(out) { () throws(DescentError) in try .inverseTime(initial: initialLR, decayRate: decayRate) }
    }
}

@c public func descent_schedule_new_exponential(_ initialLR: Double, _ gamma: Double,
                                                _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    exported("descent_schedule_new_exponential") { () throws(DescentError) in
        try publishSchedule(out) { () throws(DescentError) in try .exponential(initial: initialLR, gamma: gamma) }
    }
}

@c public func descent_schedule_new_inverse_power(_ initialLR: Double, _ k: Double, _ power: Double, _ offset: Double,
                                                  _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    exported("descent_schedule_new_inverse_power") { () throws(DescentError) in
        try publishSchedule(out) { () throws(DescentError) in
            try .inversePower(initial: initialLR, k: k, power: power, offset: offset)
        }
    }
}

@c public func descent_schedule_new_step(_ initialLR: Double, _ stepSize: Int64, _ gamma: Double,
                                         _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    exported("descent_schedule_new_step") { () throws(DescentError) in
        try publishSchedule(out) { () throws(DescentError) in try .stepDecay(initial: initialLR, stepSize: stepSize, gamma: gamma) }
    }
}

@c public func descent_schedule_new_multi_step(_ initialLR: Double, _ milestones: UnsafePointer<Int64>?,
                                               _ count: Int64, _ gamma: Double,
                                               _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    exported("descent_schedule_new_multi_step") { () throws(DescentError) in
        let marks = try readInt64s(milestones, count, "milestones", copies: 2)
        try publishSchedule(out) { () throws(DescentError) in try .multiStep(initial: initialLR, milestones: marks, gamma: gamma) }
    }
}

@c public func descent_schedule_new_piecewise_constant(_ boundaries: UnsafePointer<Int64>?, _ boundaryCount: Int64,
                                                       _ values: UnsafePointer<Double>?,
                                                       _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    exported("descent_schedule_new_piecewise_constant") { () throws(DescentError) in
        let marks = try readInt64s(boundaries, boundaryCount, "boundaries")
        let source = try required(values, "values")
        try probeAllocation(Double.self, count: marks.count + 1, "values")
        let rates = Array(UnsafeBufferPointer(start: source, count: marks.count + 1))
        try publishSchedule(out) { () throws(DescentError) in try .piecewiseConstant(boundaries: marks, values: rates) }
    }
}

@c public func descent_schedule_new_cosine(_ initialLR: Double, _ tMax: Int64, _ etaMin: Double,
                                           _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    exported("descent_schedule_new_cosine") { () throws(DescentError) in
        try publishSchedule(out) { () throws(DescentError) in try .cosine(initial: initialLR, period: tMax, minimum: etaMin) }
    }
}

@c public func descent_schedule_new_cosine_warm_restarts(_ initialLR: Double, _ t0: Int64, _ tMult: Int64,
                                                         _ etaMin: Double, _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    exported("descent_schedule_new_cosine_warm_restarts") { () throws(DescentError) in
        try publishSchedule(out) { () throws(DescentError) in
            try .cosineWarmRestarts(initial: initialLR, firstPeriod: t0, periodMultiplier: tMult, minimum: etaMin)
        }
    }
}

@c public func descent_schedule_new_linear(_ initialLR: Double, _ startFactor: Double, _ endFactor: Double,
                                           _ totalIters: Int64, _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    exported("descent_schedule_new_linear") { () throws(DescentError) in
        try publishSchedule(out) { () throws(DescentError) in
            try .linear(initial: initialLR, startFactor: startFactor, endFactor: endFactor, totalSteps: totalIters)
        }
    }
}

@c public func descent_schedule_new_polynomial(_ initialLR: Double, _ totalIters: Int64, _ power: Double,
                                               _ endLR: Double, _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    exported("descent_schedule_new_polynomial") { () throws(DescentError) in
        try publishSchedule(out) { () throws(DescentError) in
            try .polynomial(initial: initialLR, totalSteps: totalIters, power: power, final: endLR)
        }
    }
}

@c public func descent_schedule_new_one_cycle(_ maxLR: Double, _ totalSteps: Int64, _ pctStart: Double,
                                              _ annealStrategy: Int32, _ divFactor: Double, _ finalDivFactor: Double,
                                              _ threePhase: Int32, _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    exported("descent_schedule_new_one_cycle") { () throws(DescentError) in
        guard let annealing = OneCycle.Annealing(rawValue: annealStrategy) else {
            throw DescentError(.invalidArgument, "anneal_strategy \(annealStrategy) is not DESCENT_ANNEAL_COS (0) or DESCENT_ANNEAL_LINEAR (1)")
        }
        try publishSchedule(out) { () throws(DescentError) in
            try .oneCycle(maxLearningRate: maxLR, totalSteps: totalSteps, pctStart: pctStart, annealing: annealing,
                          divFactor: divFactor, finalDivFactor: finalDivFactor, threePhase: threePhase != 0)
        }
    }
}

@c public func descent_schedule_new_one_cycle_momentum(_ maxLR: Double, _ totalSteps: Int64, _ pctStart: Double,
                                                       _ annealStrategy: Int32, _ divFactor: Double,
                                                       _ finalDivFactor: Double, _ threePhase: Int32,
                                                       _ baseMomentum: Double, _ maxMomentum: Double,
                                                       _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    exported("descent_schedule_new_one_cycle_momentum") { () throws(DescentError) in
        guard let annealing = OneCycle.Annealing(rawValue: annealStrategy) else {
            throw DescentError(.invalidArgument, "anneal_strategy \(annealStrategy) is not DESCENT_ANNEAL_COS (0) or DESCENT_ANNEAL_LINEAR (1)")
        }
        try publishSchedule(out) { () throws(DescentError) in
            let range = try OneCycle.MomentumRange(base: baseMomentum, max: maxMomentum)
            return try .oneCycle(maxLearningRate: maxLR, totalSteps: totalSteps, pctStart: pctStart, annealing: annealing,
                                 divFactor: divFactor, finalDivFactor: finalDivFactor, threePhase: threePhase != 0,
                                 momentum: range)
        }
    }
}

@c public func descent_schedule_new_sequential(_ schedules: UnsafePointer<UInt64>?, _ count: Int64,
                                               _ milestones: UnsafePointer<Int64>?,
                                               _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    exported("descent_schedule_new_sequential") { () throws(DescentError) in
        let length = try readCount(count, "count")
        guard length >= 1 else { throw DescentError(.invalidArgument, "sequential needs at least one schedule") }
        let list = try required(schedules, "schedules")
        try probeAllocation(LearningRateSchedule.self, count: length, copies: 2, "schedules")
        var parts: [LearningRateSchedule] = []
        parts.reserveCapacity(min(length, 1 << 16))  // a count larger than the array is the caller's error
        for index in 0..<length { parts.append(try schedule(list[index], "schedules[\(index)]")) }
        let marks = try readInt64s(milestones, count - 1, "milestones")
        try publishSchedule(out) { () throws(DescentError) in try .sequential(parts, milestones: marks) }
    }
}

@c public func descent_schedule_value(_ handle: UInt64, _ step: Int64, _ lr: UnsafeMutablePointer<Double>?) -> Int32 {
    exported("descent_schedule_value") { () throws(DescentError) in
        let destination = try required(lr, "lr")
        destination.pointee = try schedule(handle, "schedule").value(at: step)
    }
}

@c public func descent_schedule_base_rate(_ handle: UInt64, _ lr: UnsafeMutablePointer<Double>?) -> Int32 {
    exported("descent_schedule_base_rate") { () throws(DescentError) in
        let destination = try required(lr, "lr")
        destination.pointee = try schedule(handle, "schedule").baseRate
    }
}

@c public func descent_schedule_rebase(_ handle: UInt64, _ lr: Double, _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    exported("descent_schedule_rebase") { () throws(DescentError) in
        let source = try schedule(handle, "schedule")
        try publishSchedule(out) { () throws(DescentError) in try source.rebased(to: lr) }
    }
}

@c public func descent_schedule_momentum(_ handle: UInt64, _ step: Int64, _ momentum: UnsafeMutablePointer<Double>?) -> Int32 {
    exported("descent_schedule_momentum") { () throws(DescentError) in
        let destination = try required(momentum, "momentum")
        destination.pointee = try schedule(handle, "schedule").momentum(at: step)
    }
}

@c public func descent_schedule_values(_ handle: UInt64, _ firstStep: Int64, _ count: Int64,
                                       _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    exported("descent_schedule_values") { () throws(DescentError) in
        let evaluated = try schedule(handle, "schedule")
        let length = try readCount(count, "count")
        guard firstStep >= 0 else { throw DescentError(.invalidArgument, "first_step \(firstStep) is negative") }
        guard length == 0 || firstStep <= Int64.max - Int64(length) + 1 else {
            throw DescentError(.invalidArgument, "first_step + count overflows int64")
        }
        if length == 0 { return }
        let destination = try required(out, "out")
        // Evaluate everything first so a failure (e.g. one-cycle past its end) writes nothing.
        try probeAllocation(Double.self, count: length, "rates")
        var rates: [Double] = []
        rates.reserveCapacity(length)
        for offset in 0..<Int64(length) { rates.append(try evaluated.value(at: firstStep + offset)) }
        for (index, rate) in rates.enumerated() { destination[index] = rate }
    }
}

@c public func descent_schedule_free(_ handle: UInt64) -> Int32 {
    exported("descent_schedule_free") { () throws(DescentError) in
        try handles.remove(handle, as: LearningRateSchedule.self, role: "schedule")
    }
}
