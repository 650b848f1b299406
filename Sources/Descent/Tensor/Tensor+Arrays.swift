/// Swift arrays in and out: the conveniences a Swift program uses where C and Python pass
/// pointers and NumPy arrays.
extension Tensor {
    /// A new tensor holding a copy of `values` in row-major order: `Float` values make a float32
    /// tensor, `Double` values a float64 one. `shape` defaults to `[values.count]` (rank 1);
    /// otherwise its element count must equal `values.count` (else `.shape`).
    ///
    /// ```swift
    /// let w = try Tensor([1.0, 2.0, 3.0, 4.0], shape: [2, 2])   // float64, 2 x 2
    /// ```
    public convenience init<T: DescentScalar>(_ values: [T], shape: [Int]? = nil) throws(DescentError) {
        let shape = shape ?? [values.count]
        try self.init(uninitialized: T.dtype, shape: shape)
        guard count == values.count else {
            throw .shape("\(values.count) values do not fill shape \(Shape.describe(shape)) (\(count) elements)")
        }
        values.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { storage.copyMemory(from: base, byteCount: byteCount) }
        }
    }

    /// The elements as a new Swift array (row-major). `T` must match `dtype` (else `.dtype`).
    public func toArray<T: DescentScalar>(_: T.Type = T.self) throws(DescentError) -> [T] {
        Array(try elements(T.self))
    }

    /// Overwrites every element from `values` (row-major; same count, `T` matching `dtype`).
    public func assign<T: DescentScalar>(_ values: [T]) throws(DescentError) {
        guard T.dtype == dtype else { throw .dtype("values are \(T.dtype), tensor holds \(dtype)") }
        guard values.count == count else { throw .shape("source has \(values.count) elements, tensor has \(count)") }
        values.withUnsafeBytes { bytes in
            if let base = bytes.baseAddress { storage.copyMemory(from: base, byteCount: byteCount) }
        }
    }
}
