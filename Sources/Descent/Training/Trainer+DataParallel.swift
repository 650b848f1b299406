/// The two halves of a training step, for data-parallel training: every rank computes the
/// gradients of its part of the global batch (`gradients(_:batch:part:parts:)`), the ranks sum the
/// graph's flat gradient buffer (one allreduce; MPI lives outside the library), and every rank
/// applies the same update (`applyUpdate()`).
///
/// The gradient of part r (n_r of the batch's B samples) is written scaled by n_r / B, so the sum
/// over the parts is the gradient of the whole batch for a loss that is a mean over samples (every
/// cost with `Reduction.mean`, plus terms that do not depend on the batch, such as an L2 penalty,
/// which the weights n_r / B sum back to once). Batch norm computes its statistics over each part.
extension Trainer {
    /// Forward and backward on part `part` of `parts` of batch `batch` of `loader`'s current epoch
    /// (rows `part·B/parts ..< (part+1)·B/parts` of the batch's B samples), without updating
    /// anything; the gradients, scaled by n_r / B, are left in the graph's flat gradient buffer.
    /// Returns the part's mean loss, correct predictions (-1 without labels and an output node)
    /// and sample count n_r. Advances the dropout step counter (every part of a step uses the
    /// step's masks; `applyUpdate` does not advance it again). An empty part (B < parts) writes zero gradients and returns loss 0.
    /// C counterpart: `descent_trainer_backward_batch`.
    public func gradients(_ loader: DataLoader, batch: Int, part: Int, parts: Int) throws(DescentError) -> StepResult {
        guard parts >= 1 else { throw .argument("parts must be >= 1, got \(parts)") }
        guard part >= 0, part < parts else { throw .argument("part \(part) is outside 0 ..< \(parts)") }
        _ = try optimizer
        return try lock.withLock { _ throws(DescentError) -> StepResult in
            let size = try loader.size(ofBatch: batch)
            let samples = DataLoader.partRange(count: size, part: part, parts: parts).count
            if samples == 0 {
                try rebindIfNeeded()
                let buffer = try graph.flatGradients()
                buffer.fill(0)
                try graph.locked {
                    graph.backupRunningStatistics()  // what a skipped update restores
                    graph.dropoutStep &+= 1
                }
                return StepResult(loss: 0, skipped: false, correct: outputNode >= 0 ? 0 : -1, samples: 0)
            }
            try feed(loader, batch, part: part, parts: parts)
            // Whether the part's gradients are finite does not matter yet: the update scans the
            // summed gradients again.
            let (result, _) = try runGradients()
            // The step is counted for dropout here, so a loop that updates with an optimizer shard
            // instead of `applyUpdate` gets fresh masks too.
            try graph.locked { graph.dropoutStep &+= 1 }
            if samples != size {
                let buffer = try graph.flatGradients()
                try buffer.scale(by: Double(samples) / Double(size))
            }
            return result
        }
    }

    /// Clipping, the scheduled learning rate and the optimizer's update (under its non-finite
    /// policy, scanning the gradients again: the allreduce changed them) with the gradients now
    /// in the graph's flat buffer. Returns whether the update was
    /// skipped. On failure params, optimizer state and batch norm statistics stay as they were.
    /// C counterpart: `descent_trainer_apply`.
    @discardableResult
    public func applyUpdate() throws(DescentError) -> Bool {
        try lock.withLock { _ throws(DescentError) -> Bool in
            try runUpdate(gradientsKnownFinite: nil, advanceDropout: false)
        }
    }
}
