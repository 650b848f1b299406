#if canImport(Glibc)
import Glibc
#endif

/// The training loop: epochs of shuffled mini-batches, each a one-call `Trainer.step`, with
/// per-epoch metrics on the training and an optional validation set, early stopping with
/// patience, and restoring the best parameters (Keras's `fit` and `EarlyStopping` semantics).
/// C counterpart: `descent_trainer_fit`.
public struct FitOptions: Sendable {
    /// Epochs to train.
    public var epochs = 1
    /// Stop after this many epochs without improvement of the monitored loss (0: never).
    public var patience = 0
    /// An improvement must lower the monitored loss by more than this.
    public var minimumDelta = 0.0
    /// Put back the parameters (and batch norm statistics) of the best epoch when training ends.
    public var restoreBest = false
    /// One epoch, no early stopping.
    public init() {}
}

/// Metrics of one epoch. Training loss and accuracy are running averages over the epoch's
/// steps (batch-size weighted), as Keras reports them; validation metrics come from
/// `Trainer.evaluate` after the epoch (NaN without a validation loader).
public struct EpochRecord: Sendable {
    /// The epoch number (counting across `fit` calls).
    public var epoch: Int64
    /// The training loss (batch-weighted running mean).
    public var loss: Double
    /// The training accuracy (NaN without labels).
    public var accuracy: Double
    /// The validation loss (NaN without validation).
    public var validationLoss: Double
    /// The validation accuracy (NaN without validation labels).
    public var validationAccuracy: Double
    /// Steps taken in the epoch.
    public var steps: Int
    /// Steps skipped for non-finite gradients.
    public var skippedSteps: Int
    /// An empty record (NaN metrics) for `epoch`.
    public init(epoch: Int64) {
        self.epoch = epoch
        (loss, accuracy, validationLoss, validationAccuracy) = (.nan, .nan, .nan, .nan)
        (steps, skippedSteps) = (0, 0)
    }
}

/// What `fit` recorded.
public struct FitResult: Sendable {
    /// One record per epoch run.
    public var epochs: [EpochRecord] = []
    /// Every step's loss.
    public var stepLosses: [Double] = []
    /// Index into `epochs` of the best monitored loss (-1 if none was finite).
    public var bestEpoch = -1
    /// Whether patience ran out.
    public var stoppedEarly = false
    /// The monitored loss of the best epoch (validation loss, or training loss without validation).
    public var bestLoss = Double.nan
}

/// What a callback returns: go on, or stop training after this step/epoch.
public enum FitControl: Sendable { case proceed, stop }

extension Trainer {
    /// Trains for `options.epochs` epochs over `train` (shuffled per its settings, numbered from
    /// the trainer's epoch counter). `onStep(epoch, batch, loss)` runs after every step and
    /// `onEpoch(record)` after every epoch; either may stop training or throw (training stops and
    /// the error propagates; parameters keep their last update).
    public func fit(train: DataLoader, validation: DataLoader?, options: FitOptions,
                    onStep: ((Int64, Int, Double) throws(DescentError) -> FitControl)? = nil,
                    onEpoch: ((EpochRecord) throws(DescentError) -> FitControl)? = nil) throws(DescentError) -> FitResult {
        guard options.epochs >= 0 else { throw .argument("epochs must be >= 0, got \(options.epochs)") }
        guard options.patience >= 0 else { throw .argument("patience must be >= 0, got \(options.patience)") }
        guard options.minimumDelta.isFinite, options.minimumDelta >= 0 else {
            throw .argument("min_delta must be finite and >= 0, got \(options.minimumDelta)")
        }
        guard train.batchCount > 0 else { throw .argument("the training loader has no batch (empty, or smaller than one batch with drop_last)") }
        var result = FitResult()
        let (planned, overflow) = options.epochs.multipliedReportingOverflow(by: train.batchCount)
        result.stepLosses.reserveCapacity(overflow ? 1 << 16 : min(planned, 1 << 16))
        let best: GraphSnapshot? = options.restoreBest ? try graph.snapshot() : nil
        var sinceImprovement = 0
        try graph.setTraining(true)
        epochs: for _ in 0..<options.epochs {
            try train.setEpoch(epoch)
            var record = EpochRecord(epoch: epoch)
            var total = 0.0, samples = 0, correct = 0, counted = 0
            var stop = false
            for batch in 0..<train.batchCount {
                let step = try self.step(train, batch: batch)
                record.steps += 1
                if step.skipped { record.skippedSteps += 1 }
                result.stepLosses.append(step.loss)
                total += step.loss * Double(step.samples == 0 ? 1 : step.samples)
                samples += step.samples == 0 ? 1 : step.samples
                if step.correct >= 0 { correct += step.correct; counted += step.samples }
                if let onStep, try onStep(epoch, batch, step.loss) == .stop { stop = true; break }
            }
            epoch &+= 1
            record.loss = total / Double(max(samples, 1))
            record.accuracy = counted > 0 ? Double(correct) / Double(counted) : .nan
            if let validation {
                (record.validationLoss, record.validationAccuracy) = try evaluate(validation)
            }
            result.epochs.append(record)
            let monitored = validation == nil ? record.loss : record.validationLoss
            if monitored.isFinite && (result.bestEpoch < 0 || monitored < result.bestLoss - options.minimumDelta) {
                result.bestEpoch = result.epochs.count - 1
                result.bestLoss = monitored
                sinceImprovement = 0
                if let best { try graph.update(best) }
            } else {
                sinceImprovement += 1
            }
            if let onEpoch, try onEpoch(record) == .stop { stop = true }
            if stop { break epochs }
            if options.patience > 0 && sinceImprovement >= options.patience {
                result.stoppedEarly = true
                break epochs
            }
        }
        if let best, result.bestEpoch >= 0 { try graph.restore(best) }
        return result
    }
}

/// Copies of every parameter and batch norm running statistic of a graph.
public final class GraphSnapshot {
    let tensors: [Tensor]
    init(tensors: [Tensor]) { self.tensors = tensors }
}

extension Graph {
    /// The tensors a snapshot covers, in a fixed order: params, then running means and variances.
    func snapshotTargets() -> [Tensor] {
        var targets: [Tensor] = []
        for node in nodes {
            if case .parameter = node.op { targets.append(node.tensor!) }
            if let mean = node.runningMean, let variance = node.runningVariance {
                targets.append(mean)
                targets.append(variance)
            }
        }
        return targets
    }

    /// A copy of every parameter and batch-norm statistic, for `restore`.
    public func snapshot() throws(DescentError) -> GraphSnapshot {
        try locked { () throws(DescentError) -> GraphSnapshot in
            var copies: [Tensor] = []
            for target in snapshotTargets() { copies.append(try target.copy()) }
            return GraphSnapshot(tensors: copies)
        }
    }

    /// Overwrites `snapshot` with the current values (no allocation).
    public func update(_ snapshot: GraphSnapshot) throws(DescentError) {
        try locked { () throws(DescentError) in
            let targets = snapshotTargets()
            guard targets.count == snapshot.tensors.count else { throw .argument("the snapshot is from another graph") }
            for (copy, target) in zip(snapshot.tensors, targets) {
                guard copy.byteCount == target.byteCount else { throw .argument("the snapshot is from another graph") }
                copy.storage.copyMemory(from: target.storage, byteCount: target.byteCount)
            }
        }
    }

    /// Puts a snapshot back.
    public func restore(_ snapshot: GraphSnapshot) throws(DescentError) {
        try locked { () throws(DescentError) in
            let targets = snapshotTargets()
            guard targets.count == snapshot.tensors.count,
                  zip(snapshot.tensors, targets).allSatisfy({ $0.byteCount == $1.byteCount }) else {
                throw .argument("the snapshot is from another graph")
            }
            for (copy, target) in zip(snapshot.tensors, targets) {
                target.storage.copyMemory(from: copy.storage, byteCount: target.byteCount)
            }
        }
    }

    /// Re-initializes every trainable parameter from its initializer (param slot k uses seed
    /// `SplitMix64(seed).output(k)`) and resets batch norm running statistics to 0 and 1.
    /// Throws before changing anything when a trainable param has no initializer.
    public func initializeParameters(seed: UInt64) throws(DescentError) {
        try locked { () throws(DescentError) in
            for index in parameterNodes where nodes[index].trainable && nodes[index].initializer == nil {
                throw .argument("param node \(index) has no initializer (descent_graph_param_init); random restarts need one for every trainable param")
            }
            let stream = SplitMix64(seed: seed)
            for (slot, index) in parameterNodes.enumerated() where nodes[index].trainable {
                let tensor = nodes[index].tensor!
                switch nodes[index].initializer! {
                case .zeros: tensor.fill(0)
                case .ones: tensor.fill(1)
                case let .scheme(scheme, gain): try scheme.fill(tensor, seed: stream.output(UInt64(slot)), gain: gain)
                }
            }
            for node in nodes {
                node.runningMean?.fill(0)
                node.runningVariance?.fill(1)
            }
        }
    }

    /// Sets (or clears) the initializer of parameter node `index`.
    public func setInitializer(_ index: Int, _ initializer: ParameterInit?) throws(DescentError) {
        try locked { () throws(DescentError) in
            let node = try check(index, "node")
            guard case .parameter = node.op else { throw .argument("node \(index) is a \(node.op.name) node, not a param") }
            if let initializer { try Self.validate(initializer, shape: node.shape) }
            nodes[index].initializer = initializer
        }
    }
}
