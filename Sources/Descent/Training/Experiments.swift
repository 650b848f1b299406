#if canImport(Glibc)
import Glibc
#endif

/// Random restarts and the learning-rate range test: experiments composed of the training loop.
public struct RestartResult: Sendable {
    /// The seed the parameters were initialized from.
    public var seed: UInt64
    /// The training loss of the last epoch.
    public var finalLoss: Double
    /// The monitored loss of the run's best epoch (validation loss when a validation loader is
    /// given, else training loss) and that epoch's validation accuracy.
    public var bestLoss: Double
    /// The validation accuracy at the best epoch (NaN without validation).
    public var validationAccuracy: Double
    /// Epochs run (fewer than asked after early stopping).
    public var epochs: Int
}

/// What `rangeTest` measured (Smith 2017).
public struct RangeTestResult: Sendable {
    /// The rate of each step.
    public var learningRates: [Double] = []
    /// The loss of each step.
    public var losses: [Double] = []
    /// The debiased exponential average of the losses.
    public var smoothedLosses: [Double] = []
    /// The rate where the smoothed loss falls fastest against log(rate), ignoring the first
    /// min(10, n/5) and last min(5, n/10) of the n points (NaN with fewer than 3 points).
    public var suggested = Double.nan
    /// Whether the test stopped because the smoothed loss diverged.
    public var diverged = false
}

extension Trainer {
    /// Random restarts, as the notes describe for escaping poor local minima: trains `count`
    /// models from different random initializations (restart k: params from seed
    /// `SplitMix64(seed).output(k)`, fresh optimizer state, the same shuffles) and returns every
    /// result; the graph is left holding the parameters of the best run (lowest `bestLoss`).
    /// Returns the results and the index of the best.
    public func randomRestarts(count: Int, seed: UInt64, train: DataLoader, validation: DataLoader?,
                               options: FitOptions) throws(DescentError) -> (results: [RestartResult], best: Int) {
        guard count >= 1 else { throw .argument("restart count must be >= 1, got \(count)") }
        let stream = SplitMix64(seed: seed)
        let optimizer = try self.optimizer
        let startEpoch = epoch
        var results: [RestartResult] = []
        var best = -1
        let bestParameters = try graph.snapshot()
        for k in 0..<count {
            let runSeed = stream.output(UInt64(k))
            try graph.initializeParameters(seed: runSeed)
            try optimizer.resetState()
            epoch = startEpoch
            try graph.setDropoutStep(0)
            let fitted = try fit(train: train, validation: validation, options: options)
            let bestRecord = fitted.bestEpoch >= 0 ? fitted.epochs[fitted.bestEpoch] : nil
            let result = RestartResult(seed: runSeed, finalLoss: fitted.epochs.last?.loss ?? .nan,
                                       bestLoss: fitted.bestLoss,
                                       validationAccuracy: bestRecord?.validationAccuracy ?? .nan,
                                       epochs: fitted.epochs.count)
            results.append(result)
            if result.bestLoss.isFinite && (best < 0 || result.bestLoss < results[best].bestLoss) {
                best = k
                try graph.update(bestParameters)
            }
        }
        if best >= 0 { try graph.restore(bestParameters) }
        return (results, best)
    }

    /// The learning-rate range test (Smith 2017, "Cyclical Learning Rates"): `steps` training
    /// steps over `loader` with the rate growing exponentially from `start` to `end`
    /// (lr_i = start·(end/start)^(i/(steps-1))), recording the loss of each and its smoothed,
    /// debiased exponential average (factor `smoothing`). Stops early when the smoothed loss
    /// exceeds `divergence` times its minimum or is not finite. Afterwards (also after a failure)
    /// the parameters, batch norm statistics, optimizer state, step count, learning rates and the
    /// loader's epoch are exactly as before.
    public func rangeTest(_ loader: DataLoader, start: Double, end: Double, steps: Int,
                          smoothing: Double = 0.98, divergence: Double = 4) throws(DescentError) -> RangeTestResult {
        guard start.isFinite, end.isFinite, start > 0, end > start else {
            throw .argument("the range must satisfy 0 < start < end (finite), got \(start) and \(end)")
        }
        guard (end / start).isFinite else {
            // The rates start·(end/start)^f would be infinite from the first step on.
            throw .argument("the range \(start) ... \(end) is too wide: end/start overflows to infinity")
        }
        guard steps >= 2 else { throw .argument("steps must be >= 2, got \(steps)") }
        guard smoothing.isFinite, smoothing >= 0, smoothing < 1 else { throw .argument("smoothing must lie in [0, 1), got \(smoothing)") }
        guard divergence.isFinite, divergence > 1 else { throw .argument("divergence must be > 1, got \(divergence)") }
        guard loader.batchCount > 0 else { throw .argument("the loader has no batch") }
        let optimizer = try self.optimizer
        let parameters = try graph.snapshot()
        let state = try optimizer.snapshot()
        let rates = try optimizer.learningRates()
        let savedSchedule = schedule, savedEpoch = epoch, savedDropout = try graph.currentDropoutStep
        let savedLoaderEpoch = loader.epoch
        schedule = nil
        defer {
            schedule = savedSchedule
            epoch = savedEpoch
            // The loader's sample order too (the test moves it through epochs); a loader that had
            // none set reads as epoch 0, as every reader sets it.
            try? loader.setEpoch(max(savedLoaderEpoch, 0))
            try? graph.setDropoutStep(savedDropout)
            try? optimizer.restore(state)
            try? optimizer.setLearningRates(rates)
            try? graph.restore(parameters)
        }
        var result = RangeTestResult()
        var average = 0.0, lowest = Double.infinity
        var pass: Int64 = savedEpoch
        try loader.setEpoch(pass)
        var batch = 0
        for i in 0..<steps {
            let rate = start * pow(end / start, Double(i) / Double(steps - 1))
            try optimizer.setLearningRateOfAllGroups(rate)
            if batch == loader.batchCount {
                pass &+= 1
                try loader.setEpoch(pass)
                batch = 0
            }
            let step = try self.step(loader, batch: batch)
            batch += 1
            average = smoothing * average + (1 - smoothing) * step.loss
            let smoothed = average / (1 - pow(smoothing, Double(i + 1)))
            result.learningRates.append(rate)
            result.losses.append(step.loss)
            result.smoothedLosses.append(smoothed)
            if !smoothed.isFinite || smoothed > divergence * lowest {
                result.diverged = true
                break
            }
            lowest = min(lowest, smoothed)
        }
        // Steepest descent of the smoothed loss against log(rate), by central differences,
        // skipping the first points (the average is still settling: up to 10, a fifth of the run)
        // and the last ones (up to 5, a tenth: the loss is turning to diverge).
        let points = result.smoothedLosses.count
        let first = max(1, min(10, points / 5)), last = min(points - 2, points - 1 - min(5, points / 10))
        if points >= 3 && first <= last {
            var steepest = Double.infinity
            for i in first...last {
                let slope = (result.smoothedLosses[i + 1] - result.smoothedLosses[i - 1])
                    / (log(result.learningRates[i + 1]) - log(result.learningRates[i - 1]))
                if slope.isFinite && slope < steepest {
                    steepest = slope
                    result.suggested = result.learningRates[i]
                }
            }
        }
        return result
    }
}
