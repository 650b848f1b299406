#if canImport(Glibc)
import Glibc
#endif

/// A dense, row-major array of `Float` or `Double` with rank 0 to `Shape.maxRank`.
///
/// A tensor either owns its storage (64-byte aligned, freed when the tensor is released) or
/// borrows memory the caller keeps alive (`Tensor(wrapping:...)`). The shape and dtype never
/// change; the contents are updated in place by kernels and optimizer steps.
///
/// C counterpart: `descent_tensor`.
public final class Tensor {
    /// float32 or float64.
    public let dtype: DType
    /// The extents, row-major (empty for a scalar).
    public let shape: [Int]
    /// The number of elements (the product of the extents).
    public let count: Int
    /// Start of the elements. Valid for the tensor's lifetime (owned) or as long as the caller
    /// keeps the wrapped memory alive (borrowed).
    public let storage: UnsafeMutableRawPointer
    /// True when the memory belongs to the caller (zero-copy wrap) or to another tensor (a view).
    public let isBorrowed: Bool
    /// The tensor whose memory a view shares, kept alive as long as the view.
    let owner: Tensor?

    /// Allocates an uninitialized tensor. Use the factories (`zeros`, `full`, ...) instead.
    init(uninitialized dtype: DType, shape: [Int]) throws(DescentError) {
        let count = try Shape.elementCount(shape, dtype: dtype)
        var memory: UnsafeMutableRawPointer? = nil
        // Zero-sized tensors still get a real (tiny) allocation so `storage` is never dangling.
        let bytes = max(count * dtype.size, 64)
        guard posix_memalign(&memory, 64, bytes) == 0, let memory else {
            throw DescentError(.outOfMemory,
                               "cannot allocate \(bytes) bytes for a \(dtype) tensor of shape \(Shape.describe(shape))")
        }
        self.dtype = dtype
        self.shape = shape
        self.count = count
        self.storage = memory
        self.isBorrowed = false
        self.owner = nil
    }

    /// Wraps `count(shape)` elements of caller memory without copying. The caller keeps the memory
    /// alive and unmoved for as long as the tensor exists.
    public init(wrapping memory: UnsafeMutableRawPointer, dtype: DType, shape: [Int],
                capacity: Int) throws(DescentError) {
        let count = try Shape.elementCount(shape, dtype: dtype)
        guard capacity >= count else {
            throw DescentError(.bufferTooSmall,
                               "buffer holds \(capacity) elements, shape \(Shape.describe(shape)) needs \(count)")
        }
        guard Int(bitPattern: memory) % dtype.size == 0 else {
            throw .argument("wrapped memory is not aligned to \(dtype.size) bytes for \(dtype)")
        }
        self.dtype = dtype
        self.shape = shape
        self.count = count
        self.storage = memory
        self.isBorrowed = true
        self.owner = nil
    }

    /// A view of `count(shape)` elements of `base` starting at element `offset`; it keeps `base`
    /// alive.
    public init(view base: Tensor, offset: Int, shape: [Int]) throws(DescentError) {
        let count = try Shape.elementCount(shape, dtype: base.dtype)
        guard offset >= 0, offset <= base.count, count <= base.count - offset else {
            throw .shape("a view of \(count) elements at offset \(offset) does not fit in \(base.count)")
        }
        self.dtype = base.dtype
        self.shape = shape
        self.count = count
        self.storage = base.storage + offset * base.dtype.size
        self.isBorrowed = true
        self.owner = base
    }

    deinit {
        if !isBorrowed { free(storage) }
    }

    /// The number of axes.
    public var rank: Int { shape.count }
    /// The size of the elements in bytes.
    public var byteCount: Int { count * dtype.size }

    /// The elements as a typed buffer. `T` must match `dtype` (checked).
    public func elements<T: DescentScalar>(_: T.Type) throws(DescentError) -> UnsafeMutableBufferPointer<T> {
        guard T.dtype == dtype else {
            throw .dtype("tensor holds \(dtype), not \(T.dtype)")
        }
        return UnsafeMutableBufferPointer(start: storage.assumingMemoryBound(to: T.self), count: count)
    }

    /// Unchecked typed view for kernels that already dispatched on `dtype`.
    @inlinable
    func buffer<T: DescentScalar>(as _: T.Type) -> UnsafeMutableBufferPointer<T> {
        UnsafeMutableBufferPointer(start: storage.assumingMemoryBound(to: T.self), count: count)
    }

    /// Unchecked typed pointer to the first element (never nil: storage always exists).
    @inlinable
    func pointer<T: DescentScalar>(as _: T.Type) -> UnsafeMutablePointer<T> {
        storage.assumingMemoryBound(to: T.self)
    }

    /// A new tensor with the same dtype, shape and contents (always owning its storage).
    public func copy() throws(DescentError) -> Tensor {
        let result = try Tensor(uninitialized: dtype, shape: shape)
        result.storage.copyMemory(from: storage, byteCount: byteCount)
        return result
    }

    /// Copies the elements into `destination`, which holds `capacity` elements of `dtype`.
    public func copy(to destination: UnsafeMutableRawPointer, capacity: Int,
                     dtype requested: DType) throws(DescentError) {
        guard requested == dtype else {
            throw .dtype("destination buffer is \(requested), tensor holds \(dtype)")
        }
        guard capacity >= count else {
            throw DescentError(.bufferTooSmall, "destination holds \(capacity) elements, tensor has \(count)")
        }
        destination.copyMemory(from: storage, byteCount: byteCount)
    }

    /// Overwrites every element from `source`, which holds exactly `count` elements of `dtype`.
    public func assign(from source: UnsafeRawPointer, count sourceCount: Int,
                       dtype requested: DType) throws(DescentError) {
        guard requested == dtype else {
            throw .dtype("source buffer is \(requested), tensor holds \(dtype)")
        }
        guard sourceCount == count else {
            throw .shape("source has \(sourceCount) elements, tensor has \(count)")
        }
        // memmove: the source may overlap a wrapped tensor's memory.
        memmove(storage, source, byteCount)
    }

    /// Throws unless `other` has this tensor's dtype and shape.
    public func requireSameLayout(as other: Tensor, _ role: String) throws(DescentError) {
        guard other.dtype == dtype else {
            throw .dtype("\(role) is \(other.dtype), expected \(dtype)")
        }
        guard other.shape == shape else {
            throw .shape("\(role) has shape \(Shape.describe(other.shape)), expected \(Shape.describe(shape))")
        }
    }
}
