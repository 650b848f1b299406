import Descent

// C exports of data loaders and trainers (descent_loader, descent_trainer handles). Shims only.

/// `descent_step_fn` in include/descent.h.
public typealias CStepFunction = @convention(c) (UnsafeMutableRawPointer?, Int64, Int64, Double) -> Int32
/// `descent_epoch_fn` in include/descent.h.
public typealias CEpochFunction = @convention(c) (UnsafeMutableRawPointer?, Int64, UnsafePointer<Double>?) -> Int32

/// Columns of one history row: loss, accuracy, val_loss, val_accuracy, steps, skipped steps.
let historyColumns = 6

@inline(__always)
private func loader(_ handle: UInt64, _ role: String = "loader") throws(DescentError) -> DataLoader {
    try handles.lookup(handle, as: DataLoader.self, role: role)
}

@inline(__always)
private func trainer(_ handle: UInt64) throws(DescentError) -> Trainer {
    try handles.lookup(handle, as: Trainer.self, role: "trainer")
}

private func optionalLoader(_ handle: UInt64) throws(DescentError) -> DataLoader? {
    handle == 0 ? nil : try loader(handle, "validation loader")
}

private func callbackStatus(_ status: Int32, _ what: String) throws(DescentError) -> FitControl {
    switch status {
    case 0: return .proceed
    case 1: return .stop
    default:
        let name = ErrorCode(rawValue: status).map { String(describing: $0.name) } ?? "status \(status)"
        throw DescentError(.callback, "the \(what) callback failed with \(name)")
    }
}

private func row(_ record: EpochRecord) -> (Double, Double, Double, Double, Double, Double) {
    (record.loss, record.accuracy, record.validationLoss, record.validationAccuracy, Double(record.steps),
     Double(record.skippedSteps))
}

private func fitOptions(_ epochs: Int64, _ patience: Int64, _ minimumDelta: Double,
                        _ restoreBest: Int32) throws(DescentError) -> FitOptions {
    guard epochs >= 0, epochs <= Int64(Int32.max) else { throw DescentError(.invalidArgument, "epochs must be in 0...2^31-1, got \(epochs)") }
    guard patience >= 0, patience <= Int64(Int32.max) else { throw DescentError(.invalidArgument, "patience must be in 0...2^31-1, got \(patience)") }
    guard restoreBest == 0 || restoreBest == 1 else { throw DescentError(.invalidArgument, "restore_best must be 0 or 1, got \(restoreBest)") }
    var options = FitOptions()
    options.epochs = Int(epochs)
    options.patience = Int(patience)
    options.minimumDelta = minimumDelta
    options.restoreBest = restoreBest == 1
    return options
}

@c public func descent_loader_new(_ inputs: UInt64, _ targets: UInt64, _ labels: UnsafePointer<Int64>?,
                                  _ labelCount: Int64, _ batchSize: Int64, _ flags: Int32, _ seed: UInt64,
                                  _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    exported("descent_loader_new") { () throws(DescentError) in
        let destination = try required(out, "out")
        guard flags & ~3 == 0 else { throw DescentError(.invalidArgument, "unknown loader flags \(flags) (1 shuffle, 2 drop last)") }
        let count = try readCount(labelCount, "label_count")
        guard batchSize >= 1, batchSize <= Int64(Int32.max) else { throw DescentError(.invalidArgument, "batch size must be in 1...2^31-1, got \(batchSize)") }
        if count > 0 { _ = try required(labels, "labels") }
        let created = try DataLoader(inputs: tensor(inputs, "inputs"), targets: targets == 0 ? nil : tensor(targets, "targets"),
                                     labels: count > 0 ? labels : nil, labelCount: count, batchSize: Int(batchSize),
                                     shuffle: flags & 1 != 0, dropLast: flags & 2 != 0, seed: seed)
        destination.pointee = try handles.insert(created)
    }
}

@c public func descent_loader_free(_ handle: UInt64) -> Int32 {
    exported("descent_loader_free") { () throws(DescentError) in
        try handles.remove(handle, as: DataLoader.self, role: "loader")
    }
}

@c public func descent_loader_batch_count(_ handle: UInt64, _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    exported("descent_loader_batch_count") { () throws(DescentError) in
        let destination = try required(out, "out")
        destination.pointee = Int64(try loader(handle).batchCount)
    }
}

@c public func descent_loader_set_epoch(_ handle: UInt64, _ epoch: Int64) -> Int32 {
    exported("descent_loader_set_epoch") { () throws(DescentError) in
        try loader(handle).setEpoch(epoch)
    }
}

@c public func descent_loader_batch_indices(_ handle: UInt64, _ batch: Int64, _ out: UnsafeMutablePointer<Int64>?,
                                            _ capacity: Int64, _ countOut: UnsafeMutablePointer<Int64>?) -> Int32 {
    exported("descent_loader_batch_indices") { () throws(DescentError) in
        let source = try loader(handle)
        let room = try readCount(capacity, "capacity")
        let countDestination = try required(countOut, "count")
        guard batch >= 0, batch <= Int64(Int32.max) else { throw DescentError(.invalidArgument, "batch \(batch) is out of range") }
        if source.epoch < 0 { try source.setEpoch(0) }
        let indices = try source.indices(ofBatch: Int(batch))
        guard room >= indices.count else {
            throw DescentError(.bufferTooSmall, "batch \(batch) has \(indices.count) samples, capacity is \(room)")
        }
        if indices.count > 0 {
            let destination = try required(out, "out")
            for (position, sample) in indices.enumerated() { destination[position] = Int64(sample) }
        }
        countDestination.pointee = Int64(indices.count)
    }
}

@c public func descent_trainer_new(_ graphHandle: UInt64, _ optimizerHandle: UInt64, _ loss: Int64,
                                   _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    exported("descent_trainer_new") { () throws(DescentError) in
        let destination = try required(out, "out")
        let created = try Trainer(graph: graph(graphHandle),
                                  optimizer: optimizerHandle == 0 ? nil
                                      : handles.lookup(optimizerHandle, as: Optimizer.self, role: "optimizer"),
                                  loss: node(loss, "loss"))
        destination.pointee = try handles.insert(created)
    }
}

@c public func descent_trainer_free(_ handle: UInt64) -> Int32 {
    exported("descent_trainer_free") { () throws(DescentError) in
        try handles.remove(handle, as: Trainer.self, role: "trainer")
    }
}

@c public func descent_trainer_set_nodes(_ handle: UInt64, _ input: Int64, _ target: Int64, _ output: Int64) -> Int32 {
    exported("descent_trainer_set_nodes") { () throws(DescentError) in
        func optionalNode(_ value: Int64, _ role: String) throws(DescentError) -> Int { value == -1 ? -1 : try node(value, role) }
        try trainer(handle).setNodes(input: optionalNode(input, "input"), target: optionalNode(target, "target"),
                                     output: optionalNode(output, "output"))
    }
}

@c public func descent_trainer_set_schedule(_ handle: UInt64, _ schedule: UInt64, _ perEpoch: Int32) -> Int32 {
    exported("descent_trainer_set_schedule") { () throws(DescentError) in
        let target = try trainer(handle)
        guard perEpoch == 0 || perEpoch == 1 else { throw DescentError(.invalidArgument, "per_epoch must be 0 or 1, got \(perEpoch)") }
        let resolved = schedule == 0 ? nil : try handles.lookup(schedule, as: LearningRateSchedule.self, role: "schedule")
        try target.setSchedule(resolved, perEpoch: perEpoch == 1)
    }
}

@c public func descent_trainer_set_clip_norm(_ handle: UInt64, _ maxNorm: Double) -> Int32 {
    exported("descent_trainer_set_clip_norm") { () throws(DescentError) in
        let target = try trainer(handle)
        guard maxNorm.isFinite, maxNorm >= 0 else { throw DescentError(.invalidArgument, "max_norm must be finite and >= 0 (0 turns clipping off), got \(maxNorm)") }
        target.clipNorm = maxNorm
    }
}

@c public func descent_trainer_epoch(_ handle: UInt64, _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    exported("descent_trainer_epoch") { () throws(DescentError) in
        let destination = try required(out, "out")
        destination.pointee = try trainer(handle).epoch
    }
}

@c public func descent_trainer_set_epoch(_ handle: UInt64, _ epoch: Int64) -> Int32 {
    exported("descent_trainer_set_epoch") { () throws(DescentError) in
        let target = try trainer(handle)
        guard epoch >= 0, epoch <= 1 << 62 else { throw DescentError(.invalidArgument, "epoch \(epoch) is outside 0...2^62") }
        target.epoch = epoch
    }
}

@c public func descent_trainer_step(_ handle: UInt64, _ lossOut: UnsafeMutablePointer<Double>?,
                                    _ skipped: UnsafeMutablePointer<Int32>?) -> Int32 {
    exported("descent_trainer_step") { () throws(DescentError) in
        let result = try trainer(handle).step()
        lossOut?.pointee = result.loss
        skipped?.pointee = result.skipped ? 1 : 0
    }
}

@c public func descent_trainer_step_batch(_ handle: UInt64, _ loaderHandle: UInt64, _ batch: Int64,
                                          _ lossOut: UnsafeMutablePointer<Double>?, _ correctOut: UnsafeMutablePointer<Int64>?,
                                          _ skipped: UnsafeMutablePointer<Int32>?) -> Int32 {
    exported("descent_trainer_step_batch") { () throws(DescentError) in
        let target = try trainer(handle)
        let source = try loader(loaderHandle)
        guard batch >= 0, batch <= Int64(Int32.max) else { throw DescentError(.invalidArgument, "batch \(batch) is out of range") }
        let result = try target.step(source, batch: Int(batch))
        lossOut?.pointee = result.loss
        correctOut?.pointee = Int64(result.correct)
        skipped?.pointee = result.skipped ? 1 : 0
    }
}

@c public func descent_trainer_evaluate(_ handle: UInt64, _ loaderHandle: UInt64, _ lossOut: UnsafeMutablePointer<Double>?,
                                        _ accuracyOut: UnsafeMutablePointer<Double>?) -> Int32 {
    exported("descent_trainer_evaluate") { () throws(DescentError) in
        let target = try trainer(handle)
        let (loss, accuracy) = try target.evaluate(loader(loaderHandle))
        lossOut?.pointee = loss
        accuracyOut?.pointee = accuracy
    }
}

@c public func descent_trainer_fit(_ handle: UInt64, _ trainHandle: UInt64, _ validationHandle: UInt64,
                                   _ epochs: Int64, _ patience: Int64, _ minimumDelta: Double, _ restoreBest: Int32,
                                   _ onStep: CStepFunction?, _ onEpoch: CEpochFunction?, _ context: UnsafeMutableRawPointer?,
                                   _ history: UnsafeMutablePointer<Double>?, _ historyCapacity: Int64,
                                   _ stepLosses: UnsafeMutablePointer<Double>?, _ stepCapacity: Int64,
                                   _ summary: UnsafeMutablePointer<Int64>?) -> Int32 {
    exported("descent_trainer_fit") { () throws(DescentError) in
        let target = try trainer(handle)
        let train = try loader(trainHandle, "train loader")
        let validation = try optionalLoader(validationHandle)
        let options = try fitOptions(epochs, patience, minimumDelta, restoreBest)
        let historyRoom = try readCount(historyCapacity, "history_capacity")
        let stepRoom = try readCount(stepCapacity, "step_capacity")
        if historyRoom > 0 { _ = try required(history, "history") }
        if stepRoom > 0 { _ = try required(stepLosses, "step_losses") }
        var stepCallback: ((Int64, Int, Double) throws(DescentError) -> FitControl)? = nil
        if let onStep {
            stepCallback = { (epoch: Int64, batch: Int, loss: Double) throws(DescentError) -> FitControl in
                try callbackStatus(onStep(context, epoch, Int64(batch), loss), "step")
            }
        }
        var epochCallback: ((EpochRecord) throws(DescentError) -> FitControl)? = nil
        if let onEpoch {
            epochCallback = { (record: EpochRecord) throws(DescentError) -> FitControl in
                let values = row(record)
                var metrics = (values.0, values.1, values.2, values.3, values.4, values.5)
                let status = withUnsafePointer(to: &metrics) { pointer in
                    onEpoch(context, record.epoch, UnsafeRawPointer(pointer).assumingMemoryBound(to: Double.self))
                }
                return try callbackStatus(status, "epoch")
            }
        }
        let result = try target.fit(train: train, validation: validation, options: options,
                                    onStep: stepCallback, onEpoch: epochCallback)
        if let history {
            for (index, record) in result.epochs.prefix(historyRoom).enumerated() {
                let values = row(record)
                let base = history + index * historyColumns
                (base[0], base[1], base[2], base[3], base[4], base[5]) = values
            }
        }
        if let stepLosses {
            for (index, loss) in result.stepLosses.prefix(stepRoom).enumerated() { stepLosses[index] = loss }
        }
        if let summary {
            summary[0] = Int64(result.epochs.count)
            summary[1] = Int64(result.stepLosses.count)
            summary[2] = Int64(result.bestEpoch)
            summary[3] = result.stoppedEarly ? 1 : 0
        }
    }
}

@c public func descent_trainer_restarts(_ handle: UInt64, _ count: Int64, _ seed: UInt64, _ trainHandle: UInt64,
                                        _ validationHandle: UInt64, _ epochs: Int64, _ patience: Int64,
                                        _ minimumDelta: Double, _ results: UnsafeMutablePointer<Double>?,
                                        _ seeds: UnsafeMutablePointer<UInt64>?, _ bestOut: UnsafeMutablePointer<Int64>?) -> Int32 {
    exported("descent_trainer_restarts") { () throws(DescentError) in
        let target = try trainer(handle)
        let train = try loader(trainHandle, "train loader")
        let validation = try optionalLoader(validationHandle)
        let options = try fitOptions(epochs, patience, minimumDelta, 1)
        let bestDestination = try required(bestOut, "best")
        guard count >= 1, count <= 1 << 20 else { throw DescentError(.invalidArgument, "count must be in 1...2^20, got \(count)") }
        let outcome = try target.randomRestarts(count: Int(count), seed: seed, train: train, validation: validation,
                                                options: options)
        if let results {
            for (index, run) in outcome.results.enumerated() {
                let base = results + index * 4
                (base[0], base[1], base[2], base[3]) = (run.finalLoss, run.bestLoss, run.validationAccuracy, Double(run.epochs))
            }
        }
        if let seeds { for (index, run) in outcome.results.enumerated() { seeds[index] = run.seed } }
        bestDestination.pointee = Int64(outcome.best)
    }
}

@c public func descent_trainer_range_test(_ handle: UInt64, _ loaderHandle: UInt64, _ start: Double, _ end: Double,
                                          _ steps: Int64, _ smoothing: Double, _ divergence: Double,
                                          _ rates: UnsafeMutablePointer<Double>?, _ losses: UnsafeMutablePointer<Double>?,
                                          _ smoothed: UnsafeMutablePointer<Double>?, _ pointsOut: UnsafeMutablePointer<Int64>?,
                                          _ suggestedOut: UnsafeMutablePointer<Double>?) -> Int32 {
    exported("descent_trainer_range_test") { () throws(DescentError) in
        let target = try trainer(handle)
        let source = try loader(loaderHandle)
        let pointsDestination = try required(pointsOut, "points")
        guard steps >= 2, steps <= 1 << 24 else { throw DescentError(.invalidArgument, "steps must be in 2...2^24, got \(steps)") }
        let result = try target.rangeTest(source, start: start, end: end, steps: Int(steps), smoothing: smoothing,
                                          divergence: divergence)
        for index in result.learningRates.indices {
            rates?[index] = result.learningRates[index]
            losses?[index] = result.losses[index]
            smoothed?[index] = result.smoothedLosses[index]
        }
        pointsDestination.pointee = Int64(result.learningRates.count)
        suggestedOut?.pointee = result.suggested
    }
}

@c public func descent_optimizer_reset(_ handle: UInt64) -> Int32 {
    exported("descent_optimizer_reset") { () throws(DescentError) in
        try handles.lookup(handle, as: Optimizer.self, role: "optimizer").resetState()
    }
}
