extension DataLoader {
    /// A loader over `inputs` (N, ...) with integer class labels given as a Swift array (copied
    /// once; N labels in 0 ..< classes). The classification costs (softmax cross-entropy,
    /// multiclass hinge) read them. Shuffled by default, as `fit` expects.
    public convenience init(inputs: Tensor, labels: [Int64], batchSize: Int, shuffle: Bool = true,
                            dropLast: Bool = false, seed: UInt64 = 0) throws(DescentError) {
        let copy = UnsafeMutablePointer<Int64>.allocate(capacity: max(labels.count, 1))
        defer { copy.deallocate() }
        copy.initialize(from: labels, count: labels.count)
        try self.init(inputs: inputs, targets: nil, labels: copy, labelCount: labels.count,
                      batchSize: batchSize, shuffle: shuffle, dropLast: dropLast, seed: seed)
    }

    /// A loader over `inputs` (N, ...) and float `targets` (N, ...), for the regression costs.
    /// Both tensors are read in place. Shuffled by default.
    public convenience init(inputs: Tensor, targets: Tensor, batchSize: Int, shuffle: Bool = true,
                            dropLast: Bool = false, seed: UInt64 = 0) throws(DescentError) {
        try self.init(inputs: inputs, targets: targets, labels: nil, labelCount: 0,
                      batchSize: batchSize, shuffle: shuffle, dropLast: dropLast, seed: seed)
    }
}
