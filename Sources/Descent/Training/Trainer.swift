import Synchronization

/// One training step in one call: forward, backward, optional gradient clipping, the learning
/// rate from an optional schedule, and the optimizer's update, over a graph whose parameters the
/// optimizer holds (matched by memory: the optimizer's params must be params of the graph; graph
/// params the optimizer does not hold stay frozen).
///
/// The optimizer's gradients are the graph's own gradient views (no copies). The finiteness of
/// every gradient is recorded while backward writes it, so the default `raise` policy costs no
/// extra pass over memory here; on a non-finite gradient under `raise` or `skip` the parameters,
/// the optimizer state and batch normalization's running statistics stay as they were.
/// C counterpart: `descent_trainer`.
public final class Trainer {
    /// The graph trained.
    public let graph: Graph
    /// nil: an evaluation-only trainer (`evaluate` works; steps throw).
    public let optimizerOrNil: Optimizer?
    /// The scalar loss node.
    public let loss: Int
    /// Input and target nodes a `DataLoader` batch is bound to; the node whose argmax is compared
    /// with labels for accuracy (-1: none).
    public var inputNode = -1
    /// The target (labels or float input) node a batch feeds, or -1.
    public var targetNode = -1
    /// The (batch, classes) node whose argmax is compared with labels, or -1.
    public var outputNode = -1
    /// The schedule that sets the learning rate before each update (nil: none), as given to
    /// `setSchedule(_:perEpoch:base:)`.
    public internal(set) var schedule: LearningRateSchedule?
    /// How the schedule met the optimizer's learning rates (see `ScheduleBase`).
    public internal(set) var scheduleBase = ScheduleBase.agree
    /// Schedule per epoch (t = completed epochs) instead of per step (t = completed steps).
    public internal(set) var schedulePerEpoch = false
    /// Per optimizer group, the schedule it follows (the schedule itself, or rebased to the group's
    /// learning rate under `ScheduleBase.optimizer`).
    var groupSchedules: [LearningRateSchedule] = []
    /// > 0: clip the global L2 norm of the gradients to this value before each update.
    public var clipNorm = 0.0
    /// Completed epochs (advanced by `fit`; it numbers the shuffles and per-epoch schedules).
    public var epoch: Int64 = 0
    var boundGeneration: UInt64 = 0
    var boundBuffer: Tensor?
    /// The optimizer's gradients (views into the graph's buffer) and a per-view norm scratch,
    /// for clipping exactly what the optimizer updates.
    var boundViews: [Tensor] = []
    var viewNorms: [Double] = []
    let lock = ForkAwareMutex((), owner: "trainer")

    /// What one training step did.
    public struct StepResult: Sendable {
        /// The loss before the update.
        public var loss: Double
        /// Whether the update was skipped (non-finite gradient under `.skip`).
        public var skipped: Bool
        /// Correct predictions in the batch (argmax of the output node vs labels), or -1.
        public var correct: Int
        /// The batch size (rows of the batch axis; 0 for a graph without one).
        public var samples: Int
    }

    var optimizer: Optimizer {
        get throws(DescentError) {
            guard let optimizerOrNil else { throw .argument("this trainer has no optimizer (it was made for evaluation only)") }
            return optimizerOrNil
        }
    }

    /// A trainer of scalar node `loss`; `optimizer` nil makes an evaluation-only trainer.
    public init(graph: Graph, optimizer: Optimizer?, loss: Int) throws(DescentError) {
        let node = try graph.locked { () throws(DescentError) -> GraphNode in try graph.check(loss, "loss") }
        guard node.shape.isEmpty else { throw .shape("the loss node must be a scalar, node \(loss) has shape \(GraphShape.describe(node.shape))") }
        self.graph = graph
        self.optimizerOrNil = optimizer
        self.loss = loss
        if optimizer != nil { try bind() }
    }

    /// Points the optimizer's gradients at the graph's gradient views (again when the graph's
    /// gradient buffer was re-planned or someone else bound other gradients).
    func bind() throws(DescentError) {
        let optimizer = try self.optimizer
        let parameters = optimizer.parameters.map { $0.tensor }
        let (views, buffer) = try graph.locked { () throws(DescentError) -> ([Tensor], Tensor) in
            try graph.planGradients()
            var views: [Tensor] = []
            for (position, tensor) in parameters.enumerated() {
                var match = -1
                for (slot, index) in graph.parameterNodes.enumerated() {
                    let candidate = graph.nodes[index].tensor!
                    if candidate.storage == tensor.storage && candidate.shape == tensor.shape { match = slot }
                }
                guard match >= 0 else {
                    throw .argument("optimizer param \(position) (shape \(Shape.describe(tensor.shape))) is not a param of the graph")
                }
                guard graph.nodes[graph.parameterNodes[match]].trainable else {
                    throw .argument("optimizer param \(position) is a frozen param of the graph (trainable = false)")
                }
                views.append(graph.parameterGradients[match])
            }
            return (views, graph.gradientBuffer!)
        }
        try optimizer.bindGradients(views)
        boundGeneration = optimizer.bindingGeneration
        boundBuffer = buffer
        boundViews = views
        viewNorms = Array(repeating: 0, count: views.count)
    }

    /// Validates and sets the input/target/output nodes a loader feeds.
    public func setNodes(input: Int, target: Int, output: Int) throws(DescentError) {
        try graph.locked { () throws(DescentError) in
            if input >= 0 {
                guard case .input = try graph.check(input, "input").op else { throw .argument("node \(input) is not an input") }
            }
            if target >= 0 {
                switch try graph.check(target, "target").op {
                case .input, .labels: break
                default: throw .argument("node \(target) is neither an input nor a labels input")
                }
            }
            if output >= 0 {
                let node = try graph.check(output, "output")
                guard node.shape.count == 2 else {
                    throw .shape("the output node for accuracy must be (batch, classes), got \(GraphShape.describe(node.shape))")
                }
            }
        }
        try lock.withLock { _ in (inputNode, targetNode, outputNode) = (input, target, output) }
    }

    /// Sets the schedule that gives the learning rate before each update: `schedule(t)` with t
    /// the optimizer's completed steps, or the trainer's completed epochs when `perEpoch`; nil
    /// removes it (the optimizer's rates stay as last set). `base` says how the schedule meets the
    /// optimizer's learning rates (`ScheduleBase`): by default each group's rate must agree with
    /// the schedule's `baseRate`, else `.invalidArgument` and nothing changes. A group's rate here
    /// is the one it had when a schedule first drove it (`Optimizer.Group.initialLearningRate`,
    /// PyTorch's `initial_lr`), not what an earlier schedule left behind.
    public func setSchedule(_ schedule: LearningRateSchedule?, perEpoch: Bool = false,
                            base: ScheduleBase = .agree) throws(DescentError) {
        guard let schedule else {
            try lock.withLock { _ in
                (self.schedule, schedulePerEpoch, scheduleBase, groupSchedules) = (nil, perEpoch, base, [])
            }
            return
        }
        let perGroup = try schedule.forGroups(withRates: try optimizer.initialLearningRates(), base: base)
        try lock.withLock { _ in
            (self.schedule, schedulePerEpoch, scheduleBase, groupSchedules) = (schedule, perEpoch, base, perGroup)
        }
    }

    /// One step on the inputs bound to the graph.
    @discardableResult
    public func step() throws(DescentError) -> StepResult {
        try lock.withLock { _ throws(DescentError) -> StepResult in try runStep() }
    }

    /// One step on batch `batch` of `loader`'s current epoch.
    @discardableResult
    public func step(_ loader: DataLoader, batch: Int) throws(DescentError) -> StepResult {
        try lock.withLock { _ throws(DescentError) -> StepResult in
            try feed(loader, batch)
            return try runStep()
        }
    }

    func feed(_ loader: DataLoader, _ batch: Int, part: Int = 0, parts: Int = 1) throws(DescentError) {
        guard inputNode >= 0 else { throw .argument("set the trainer's input node first (descent_trainer_set_nodes)") }
        let staged = try loader.gather(batch, part: part, parts: parts)
        try graph.bindInput(inputNode, staged.inputs)
        if targetNode >= 0 {
            if let labels = staged.labels {
                try graph.bindLabels(targetNode, labels.pointer!, count: labels.count)
            } else if let targets = staged.targets {
                try graph.bindInput(targetNode, targets)
            } else {
                throw .argument("the loader has neither labels nor targets for target node \(targetNode)")
            }
        }
    }

    /// A step is `runGradients` (forward and backward) then `runUpdate` (clip, schedule, update);
    /// a data-parallel loop runs the two halves itself with an allreduce of the gradients between.
    func runStep() throws(DescentError) -> StepResult {
        var (result, finite) = try runGradients()
        result.skipped = try runUpdate(gradientsKnownFinite: finite)
        return result
    }

    /// Rebinds the optimizer's gradients to the graph's views when either side changed.
    func rebindIfNeeded() throws(DescentError) {
        let optimizer = try self.optimizer
        let currentBuffer = try graph.gradientBufferIdentity
        if optimizer.bindingGeneration != boundGeneration || currentBuffer !== boundBuffer { try bind() }
    }

    /// Forward and backward on the bound inputs (batch norm's running statistics are backed up
    /// first, for `runUpdate` to restore if the update does not happen). Returns the step's
    /// result (not yet skipped) and whether every gradient is finite.
    func runGradients() throws(DescentError) -> (StepResult, Bool) {
        try rebindIfNeeded()
        let (value, finite, correct, samples) = try graph.locked {
            () throws(DescentError) -> (Double, Bool, Int, Int) in
            graph.backupRunningStatistics()
            let value = try graph.forwardBackward(loss)
            let (correct, _) = try graph.countCorrect(output: outputNode, labels: targetNode)
            return (value, graph.gradientsAllFinite, correct, graph.lastPlan?.batch ?? 0)
        }
        return (StepResult(loss: value, skipped: false, correct: correct, samples: samples), finite)
    }

    /// Clipping, the scheduled learning rate and the optimizer's update over the gradients in the
    /// graph's buffer. `known`: whether they are all finite (nil: unknown, the optimizer scans).
    /// `advanceDropout`: count the step for dropout masks (a data-parallel backward counts it).
    /// Returns whether the update was skipped.
    func runUpdate(gradientsKnownFinite known: Bool?, advanceDropout: Bool = true) throws(DescentError) -> Bool {
        let optimizer = try self.optimizer
        try rebindIfNeeded()
        do throws(DescentError) {
            if (known ?? true) && clipNorm > 0 {
                // The global L2 norm of the gradients the optimizer updates (PyTorch's clip_grad_norm_
                // over the optimized params), combined from per-tensor norms as GradientClipping does.
                // A non-finite norm clips nothing; the optimizer's policy then decides.
                for (index, view) in boundViews.enumerated() { viewNorms[index] = view.normL2() }
                let norm = GradientClipping.euclideanNorm(viewNorms)
                if norm > clipNorm {
                    let coefficient = clipNorm / (norm + GradientClipping.normEpsilon)
                    for view in boundViews { try view.scale(by: coefficient) }
                }
            }
            if schedule != nil {
                let t = schedulePerEpoch ? epoch : try optimizer.summary.stepCount
                var rates: [Double] = []
                for groupSchedule in groupSchedules { rates.append(try groupSchedule.value(at: t)) }
                try optimizer.setScheduledLearningRates(rates)
            }
            let skipped = try optimizer.step(gradientsKnownFinite: known)
            try graph.locked {
                if skipped { graph.restoreRunningStatistics() }
                if advanceDropout { graph.dropoutStep &+= 1 }
            }
            return skipped
        } catch {
            try? graph.locked { graph.restoreRunningStatistics() }
            throw error
        }
    }

    /// Loss (batch-size weighted mean of the loss node over the loader's batches, which is the
    /// dataset's loss for mean-reduced costs) and accuracy (NaN without labels and an output
    /// node), in evaluation mode (batch norm uses running statistics, dropout is off). Nothing
    /// is updated.
    public func evaluate(_ loader: DataLoader) throws(DescentError) -> (loss: Double, accuracy: Double) {
        try lock.withLock { _ throws(DescentError) -> (loss: Double, accuracy: Double) in
            let wasTraining = try graph.isTraining
            try graph.setTraining(false)
            defer { try? graph.setTraining(wasTraining) }
            if loader.epoch < 0 { try loader.setEpoch(0) }
            var total = 0.0, correct = 0, samples = 0, counted = 0
            for batch in 0..<loader.batchCount {
                try feed(loader, batch)
                let (value, right, size) = try graph.locked { () throws(DescentError) -> (Double, Int, Int) in
                    let plan = try graph.prepare(loss)
                    try graph.evaluate(loss, plan)
                    let value = graph.valueTensor(loss, plan).value(at: 0)
                    let (right, _) = try graph.countCorrect(output: outputNode, labels: targetNode)
                    return (value, right, plan.batch)
                }
                total += value * Double(size)
                samples += size
                if right >= 0 { correct += right; counted += size }
            }
            let accuracy = counted > 0 ? Double(correct) / Double(counted) : .nan
            return (samples > 0 ? total / Double(samples) : .nan, accuracy)
        }
    }
}

extension Graph {
    /// (correct, samples) of argmax(output) against the labels node, or (-1, 0) when either is
    /// missing. Evaluates `output` if the last run did not.
    func countCorrect(output: Int, labels: Int) throws(DescentError) -> (Int, Int) {
        guard output >= 0, labels >= 0, case .labels = nodes[labels].op, let store = labelStore[labels] else { return (-1, 0) }
        if !needed[output] {
            let plan = try prepare(output)
            try evaluate(output, plan)
        }
        let plan = try plan(for: store.count)
        let shape = plan.shapes[output]
        guard shape.count == 2, shape[0] == store.count else { return (-1, 0) }
        let values = valueTensor(output, plan)
        let (rows, columns) = (shape[0], shape[1])
        var correct = 0
        for row in 0..<rows where columns > 0 {
            var best = 0
            var bestValue = values.value(at: row * columns)
            for column in 1..<max(columns, 1) {
                let v = values.value(at: row * columns + column)
                if v > bestValue || (bestValue.isNaN && !v.isNaN) { best = column; bestValue = v }
            }
            if Int64(best) == store.pointer![row] { correct += 1 }
        }
        return (correct, rows)
    }

    /// Identity of the flat gradient buffer (changes when parameters are added).
    var gradientBufferIdentity: Tensor? { get throws(DescentError) { try locked { gradientBuffer } } }

    /// Saves batch norm's running statistics before a training step (restored if the step fails).
    func backupRunningStatistics() {
        guard training else { return }
        for index in nodes.indices {
            guard case .batchNorm = nodes[index].op, let backup = runningBackup[index] else { continue }
            let mean = nodes[index].runningMean!, variance = nodes[index].runningVariance!
            backup.storage.copyMemory(from: mean.storage, byteCount: mean.byteCount)
            (backup.storage + mean.byteCount).copyMemory(from: variance.storage, byteCount: variance.byteCount)
        }
    }

    func restoreRunningStatistics() {
        guard training else { return }
        for index in nodes.indices {
            guard case .batchNorm = nodes[index].op, let backup = runningBackup[index] else { continue }
            let mean = nodes[index].runningMean!, variance = nodes[index].runningVariance!
            mean.storage.copyMemory(from: backup.storage, byteCount: mean.byteCount)
            variance.storage.copyMemory(from: backup.storage + mean.byteCount, byteCount: variance.byteCount)
        }
    }
}
