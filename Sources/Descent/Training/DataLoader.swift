import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Mini-batches over a dataset held in memory: inputs (N, ...) and either integer labels (N) or
/// float targets (N, ...). Batch gradient descent is `batchSize == N`, stochastic descent
/// `batchSize == 1`, mini-batch anything between.
///
/// Epoch e visits the samples in a fixed order: 0 ..< N, or (with `shuffle`) a Fisher-Yates
/// permutation drawn from the SplitMix64 stream seeded by `SplitMix64(seed).output(e)`: swap i
/// (from N-1 down to 1) with j = ⌊(output(N-1-i) · (i+1)) / 2^64⌋. The same seed gives the same
/// batches on every machine. With `dropLast` the last partial batch is skipped.
///
/// The dataset is read in place (the tensors usually wrap caller memory) except the labels,
/// copied once. A batch is gathered into loader-owned staging buffers (one set per batch size,
/// allocated on first use). C counterpart: `descent_loader`.
public final class DataLoader {
    /// The inputs (N, ...), read in place.
    public let inputs: Tensor
    /// Float targets (N, ...), or nil (labels or no targets).
    public let targets: Tensor?
    /// N.
    public let sampleCount: Int
    /// Samples per batch (the last one may be smaller).
    public let batchSize: Int
    /// Whether each epoch visits the samples in a new seeded order.
    public let shuffle: Bool
    /// Whether the last partial batch is skipped.
    public let dropLast: Bool
    /// The seed of the shuffles.
    public let seed: UInt64
    let labels: LabelBuffer?
    private let order: UnsafeMutablePointer<Int>
    /// The epoch whose order is set (-1 before `setEpoch`).
    public private(set) var epoch: Int64 = -1
    private var staging: [(batch: Int, inputs: Tensor, targets: Tensor?, labels: LabelBuffer?)] = []
    let lock = ForkAwareMutex((), owner: "data loader")

    /// A loader over `inputs` with float `targets` or integer `labels` (copied) or neither.
    public init(inputs: Tensor, targets: Tensor?, labels: UnsafePointer<Int64>?, labelCount: Int,
                batchSize: Int, shuffle: Bool, dropLast: Bool, seed: UInt64) throws(DescentError) {
        guard inputs.rank >= 1 else { throw .shape("inputs need a sample axis (rank >= 1), got rank 0") }
        let count = inputs.shape[0]
        // An empty tensor can still have a huge first extent: bound it before sizing anything by it.
        guard count <= 1 << 40 else { throw .shape("\(count) samples is more than a loader supports (2^40)") }
        guard batchSize >= 1 else { throw .argument("batch size must be >= 1, got \(batchSize)") }
        if let targets {
            guard labels == nil else { throw .argument("give either float targets or integer labels, not both") }
            guard targets.rank >= 1, targets.shape[0] == count else {
                throw .shape("targets have shape \(Shape.describe(targets.shape)); the first extent must be the \(count) samples of the inputs")
            }
            guard targets.dtype == inputs.dtype else { throw .dtype("targets are \(targets.dtype), inputs \(inputs.dtype)") }
        }
        if labels != nil || labelCount != 0 {
            guard labelCount == count else { throw .shape("\(labelCount) labels for \(count) samples") }
        }
        let store: LabelBuffer?
        if let labels {
            store = LabelBuffer()
            try store!.assign(labels, count: labelCount)
        } else {
            store = nil
        }
        guard let memory = malloc(max(count, 1) * MemoryLayout<Int>.stride) else {
            throw DescentError(.outOfMemory, "cannot allocate the order of \(count) samples")
        }
        self.inputs = inputs
        self.targets = targets
        self.sampleCount = count
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.dropLast = dropLast
        self.seed = seed
        self.labels = store
        self.order = memory.assumingMemoryBound(to: Int.self)
        for i in 0..<count { order[i] = i }
    }

    deinit { free(order) }

    /// Batches per epoch.
    public var batchCount: Int {
        dropLast ? sampleCount / batchSize : (sampleCount + batchSize - 1) / batchSize
    }

    /// Whether the loader holds integer class labels.
    public var hasLabels: Bool { labels != nil }

    /// Fixes the order of epoch `epoch` (>= 0).
    public func setEpoch(_ epoch: Int64) throws(DescentError) {
        guard epoch >= 0 else { throw .argument("epoch \(epoch) is negative") }
        try lock.withLock { _ in
            guard epoch != self.epoch else { return }
            for i in 0..<sampleCount { order[i] = i }
            if shuffle && sampleCount > 1 {
                let stream = SplitMix64(seed: SplitMix64(seed: seed).output(UInt64(epoch)))
                var draw: UInt64 = 0
                for i in stride(from: sampleCount - 1, through: 1, by: -1) {
                    let j = Int(stream.output(draw).multipliedFullWidth(by: UInt64(i + 1)).high)
                    draw += 1
                    (order[i], order[j]) = (order[j], order[i])
                }
            }
            self.epoch = epoch
        }
    }

    /// The sample indices of batch `batch` in the current epoch (a view, valid until the next
    /// `setEpoch`).
    public func indices(ofBatch batch: Int) throws(DescentError) -> UnsafeBufferPointer<Int> {
        let range = try bounds(batch)
        return UnsafeBufferPointer(start: order + range.lowerBound, count: range.count)
    }

    private func bounds(_ batch: Int) throws(DescentError) -> Range<Int> {
        guard batch >= 0, batch < batchCount else {
            throw .argument("batch \(batch) is outside 0 ..< \(batchCount)")
        }
        let start = batch * batchSize
        return start..<min(start + batchSize, sampleCount)
    }

    /// Copies batch `batch` of the current epoch (epoch 0 if none was set) into staging buffers
    /// and returns them. With `parts` > 1 only part `part` of the batch is gathered (see
    /// `partRange`), the shard one of `parts` data-parallel ranks computes on.
    func gather(_ batch: Int, part: Int = 0, parts: Int = 1) throws(DescentError) -> (inputs: Tensor, targets: Tensor?, labels: LabelBuffer?) {
        if epoch < 0 { try setEpoch(0) }
        return try lock.withLock { _ throws(DescentError) -> (Tensor, Tensor?, LabelBuffer?) in
            let whole = try bounds(batch)
            let within = DataLoader.partRange(count: whole.count, part: part, parts: parts)
            let range = (whole.lowerBound + within.lowerBound)..<(whole.lowerBound + within.upperBound)
            let size = range.count
            var found = -1
            for (index, entry) in staging.enumerated() where entry.batch == size { found = index }
            if found < 0 {
                var inputShape = inputs.shape
                inputShape[0] = size
                let stagedInputs = try Tensor.zeros(dtype: inputs.dtype, shape: inputShape)
                var stagedTargets: Tensor? = nil
                if let targets {
                    var targetShape = targets.shape
                    targetShape[0] = size
                    stagedTargets = try Tensor.zeros(dtype: targets.dtype, shape: targetShape)
                }
                var stagedLabels: LabelBuffer? = nil
                if labels != nil {
                    stagedLabels = LabelBuffer()
                    _ = try stagedLabels!.resize(size)
                }
                if staging.count >= 3 { staging.removeFirst() }
                staging.append((size, stagedInputs, stagedTargets, stagedLabels))
                found = staging.count - 1
            }
            let entry = staging[found]
            copyRows(from: inputs, to: entry.inputs, range)
            if let targets, let staged = entry.targets { copyRows(from: targets, to: staged, range) }
            if let labels, let staged = entry.labels {
                let destination = try staged.resize(size)
                for (position, sample) in range.enumerated() { destination[position] = labels.pointer![order[sample]] }
            }
            return (entry.inputs, entry.targets, entry.labels)
        }
    }

    /// Rows `part * count / parts ..< (part + 1) * count / parts` of a batch of `count` rows: the
    /// parts tile the batch in order and differ in size by at most one.
    public static func partRange(count: Int, part: Int, parts: Int) -> Range<Int> {
        let lower = Int((Int64(part) * Int64(count)) / Int64(parts))
        let upper = Int((Int64(part + 1) * Int64(count)) / Int64(parts))
        return lower..<upper
    }

    /// Samples in batch `batch` of the current epoch (the last may be smaller).
    public func size(ofBatch batch: Int) throws(DescentError) -> Int { try bounds(batch).count }

    /// Copies the rows of `range` (in the epoch's order) into `destination`. Rows come from random
    /// places of a large array, so the copy waits on memory: a batch of 256 KB or more is split
    /// over the worker pool (a pure copy: the result does not depend on the split).
    private func copyRows(from source: Tensor, to destination: Tensor, _ range: Range<Int>) {
        let rowBytes = sampleCount == 0 ? 0 : source.byteCount / sampleCount
        guard rowBytes > 0 else { return }
        let rowsPerThread = max(1, (256 << 10) / 2 / rowBytes)
        Parallel.forEachChunk(count: range.count, minimumChunk: rowsPerThread, alignment: 1,
                              RowCopy(order: order, first: range.lowerBound, from: source.storage,
                                      to: destination.storage, rowBytes: rowBytes))
    }
}

/// Copies rows `order[first + position]` of `from` to rows `position` of `to` (a `Parallel` job).
private struct RowCopy: ChunkJob {
    let order: UnsafeMutablePointer<Int>
    let first: Int
    let from: UnsafeMutableRawPointer
    let to: UnsafeMutableRawPointer
    let rowBytes: Int

    func run(_ rows: Range<Int>) {
        for position in rows {
            (to + position * rowBytes).copyMemory(from: from + order[first + position] * rowBytes, byteCount: rowBytes)
        }
    }
}
