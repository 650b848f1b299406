/// Cost nodes: the formulas of `Loss` and `ClassificationLoss` (see those for the notation),
/// evaluated on graph buffers without allocating. With `gradient` non-nil the kernel also writes
/// `scale · dLoss/dPrediction` into it (added to it when `accumulate`).
///
/// Unlike the standalone costs, graph costs let NaN propagate instead of rejecting non-finite
/// predictions (the trainer's non-finite policy handles them), and BCE clamps probabilities
/// outside [ε, 1 - ε] without an error. Labels are checked before the run starts.
extension Graph {
    func costKernel<T: DescentScalar>(_: T.Type, _ cost: GraphCost, _ prediction: Int, _ target: Int,
                                      _ reduction: Reduction, _ parameter: Double, _ plan: GraphPlan,
                                      gradient: UnsafeMutablePointer<T>?, scale: Double, accumulate: Bool) -> Double {
        let p = pointer(T.self, prediction, plan)
        let count = plan.counts[prediction]
        @inline(__always) func store(_ i: Int, _ value: Double) {
            guard let gradient else { return }
            gradient[i] = accumulate ? T(gradient[i].doubleValue + scale * value) : T(scale * value)
        }
        if cost.usesLabels {
            let labels = labelStore[target]!.pointer!
            let (batch, classes) = (plan.shapes[prediction][0], plan.shapes[prediction][1])
            let mean = reduction == .mean && batch > 0 ? 1 / Double(batch) : 1
            var total = 0.0
            for i in 0..<batch {
                let row = p + i * classes, label = Int(labels[i])
                if cost == .softmaxCrossEntropy {
                    var largest = -Double.infinity
                    for j in 0..<classes { largest = max(largest, row[j].doubleValue) }
                    var sum = 0.0
                    for j in 0..<classes { sum += GradientMath.exponential(row[j].doubleValue - largest) }
                    total += GradientMath.naturalLog(sum) + largest - row[label].doubleValue
                    if gradient != nil {
                        for j in 0..<classes {
                            let softmax = GradientMath.exponential(row[j].doubleValue - largest) / sum
                            store(i * classes + j, mean * (softmax - (j == label ? 1 : 0)))
                        }
                    }
                } else {
                    let correct = row[label].doubleValue
                    var active = 0.0
                    for j in 0..<classes where j != label {
                        let violation = row[j].doubleValue - correct + parameter
                        if violation > 0 {
                            total += violation
                            active += 1
                            store(i * classes + j, mean)
                        } else {
                            store(i * classes + j, 0)
                        }
                    }
                    store(i * classes + label, -active * mean)
                }
            }
            return mean * total
        }
        let y = pointer(T.self, target, plan)
        let factor: Double
        switch cost {
        case .sumOfSquares: factor = 1
        case .quadratic:
            let n = plan.shapes[prediction].first ?? 1
            factor = n == 0 ? 1 : 1 / Double(n)
        case .meanSquared: factor = count == 0 ? 1 : 1 / Double(count)
        default: factor = reduction == .mean && count > 0 ? 1 / Double(count) : 1
        }
        var total = 0.0
        for i in 0..<count {
            let prediction = p[i].doubleValue, truth = y[i].doubleValue
            let loss: Double, derivative: Double
            switch cost {
            case .sumOfSquares, .quadratic:
                let r = prediction - truth
                (loss, derivative) = (0.5 * r * r, r)
            case .meanSquared:
                let r = prediction - truth
                (loss, derivative) = (r * r, 2 * r)
            case .binaryCrossEntropy:
                let clamped = min(max(prediction, parameter), 1 - parameter)
                loss = -(truth * GradientMath.naturalLog(clamped) + (1 - truth) * GradientMath.naturalLog(1 - clamped))
                derivative = (clamped - truth) / (clamped * (1 - clamped))
            default:  // binaryCrossEntropyLogits
                loss = GradientMath.softplus(prediction) - prediction * truth
                derivative = (1 - truth) * GradientMath.sigmoid(prediction) - truth * GradientMath.sigmoid(-prediction)
            }
            total += loss
            store(i, factor * derivative)
        }
        return factor * total
    }
}
