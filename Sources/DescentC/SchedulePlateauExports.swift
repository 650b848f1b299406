import Descent

// C exports for reduce-on-plateau (descent_plateau handles): the one stateful schedule.

private func plateau(_ handle: UInt64) throws(DescentError) -> ReduceOnPlateau {
    try handles.lookup(handle, as: ReduceOnPlateau.self, role: "plateau")
}

@c public func descent_plateau_new(_ lr: Double, _ mode: Int32, _ factor: Double, _ patience: Int64,
                                   _ threshold: Double, _ thresholdMode: Int32, _ cooldown: Int64,
                                   _ minLR: Double, _ eps: Double, _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    exported("descent_plateau_new") { () throws(DescentError) in
        let destination = try required(out, "out")
        guard let parsedMode = ReduceOnPlateau.Mode(rawValue: mode) else {
            throw DescentError(.invalidArgument, "mode \(mode) is not DESCENT_PLATEAU_MIN (0) or DESCENT_PLATEAU_MAX (1)")
        }
        guard let parsedThreshold = ReduceOnPlateau.ThresholdMode(rawValue: thresholdMode) else {
            throw DescentError(.invalidArgument,
                               "threshold_mode \(thresholdMode) is not DESCENT_THRESHOLD_REL (0) or DESCENT_THRESHOLD_ABS (1)")
        }
        let made = try ReduceOnPlateau(learningRate: lr, mode: parsedMode, factor: factor, patience: patience,
                                       threshold: threshold, thresholdMode: parsedThreshold, cooldown: cooldown,
                                       minimumLearningRate: minLR, eps: eps)
        destination.pointee = try handles.insert(made)
    }
}

@c public func descent_plateau_update(_ handle: UInt64, _ metric: Double, _ lr: UnsafeMutablePointer<Double>?) -> Int32 {
    exported("descent_plateau_update") { () throws(DescentError) in
        let object = try plateau(handle)
        let destination = try required(lr, "lr")
        destination.pointee = try object.update(metric: metric)
    }
}

@c public func descent_plateau_lr(_ handle: UInt64, _ lr: UnsafeMutablePointer<Double>?) -> Int32 {
    exported("descent_plateau_lr") { () throws(DescentError) in
        let object = try plateau(handle)
        let destination = try required(lr, "lr")
        destination.pointee = try object.current.learningRate
    }
}

@c public func descent_plateau_state(_ handle: UInt64, _ best: UnsafeMutablePointer<Double>?,
                                     _ numBadEpochs: UnsafeMutablePointer<Int64>?,
                                     _ cooldownCounter: UnsafeMutablePointer<Int64>?,
                                     _ updates: UnsafeMutablePointer<Int64>?) -> Int32 {
    exported("descent_plateau_state") { () throws(DescentError) in
        let state = try plateau(handle).current
        // Each out-pointer is optional; none is written unless the handle was valid.
        best?.pointee = state.best
        numBadEpochs?.pointee = state.badEpochs
        cooldownCounter?.pointee = state.cooldownCounter
        updates?.pointee = state.updates
    }
}

@c public func descent_plateau_set_lr(_ handle: UInt64, _ lr: Double) -> Int32 {
    exported("descent_plateau_set_lr") { () throws(DescentError) in
        try plateau(handle).setLearningRate(lr)
    }
}

@c public func descent_plateau_restore(_ handle: UInt64, _ lr: Double, _ best: Double, _ numBadEpochs: Int64,
                                       _ cooldownCounter: Int64, _ updates: Int64) -> Int32 {
    exported("descent_plateau_restore") { () throws(DescentError) in
        try plateau(handle).restore(ReduceOnPlateau.State(learningRate: lr, best: best, badEpochs: numBadEpochs,
                                                          cooldownCounter: cooldownCounter, updates: updates))
    }
}

@c public func descent_plateau_free(_ handle: UInt64) -> Int32 {
    exported("descent_plateau_free") { () throws(DescentError) in
        try handles.remove(handle, as: ReduceOnPlateau.self, role: "plateau")
    }
}
