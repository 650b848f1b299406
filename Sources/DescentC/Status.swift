import Descent
import DescentSupport

/// The ABI version this library implements; `DESCENT_ABI_VERSION` in include/descent.h must match.
let abiVersion: UInt32 = 1

/// Runs the body of an exported function: returns 0 (DESCENT_OK) on success, otherwise records
/// the error text for `descent_last_error()` (prefixed with the C function's name) and returns
/// the error's code. Nothing the body throws can cross the boundary as a trap.
@inline(__always)
func exported(_ function: StaticString, _ body: () throws(DescentError) -> Void) -> Int32 {
    do throws(DescentError) {
        try body()
        return 0
    } catch {
        recordError(function, error.message)
        return error.code.rawValue
    }
}

/// Records "<function>: <message>" for descent_last_error() without allocating (an out-of-memory
/// error must be reportable when nothing more can be allocated).
func recordError(_ function: StaticString, _ message: String) {
    var message = message
    message.withUTF8 { text in
        text.withMemoryRebound(to: CChar.self) { characters in
            function.utf8Start.withMemoryRebound(to: CChar.self, capacity: function.utf8CodeUnitCount) { name in
                dsupport_set_last_error_parts(name, function.utf8CodeUnitCount, characters.baseAddress, characters.count)
            }
        }
    }
}

/// Checks an out-pointer or input pointer argument.
@inline(__always)
func required<T>(_ pointer: T?, _ name: String) throws(DescentError) -> T {
    guard let pointer else { throw DescentError(.nullPointer, "\(name) is NULL") }
    return pointer
}

/// Reads a (rank, shape pointer) pair from C into a checked shape.
func readShape(rank: Int64, shape: UnsafePointer<Int64>?) throws(DescentError) -> [Int] {
    guard rank >= 0, rank <= Int64(Shape.maxRank) else {
        throw DescentError(.shape, "rank \(rank) is outside 0...\(Shape.maxRank)")
    }
    if rank == 0 { return [] }
    let dims = try required(shape, "shape")
    var result: [Int] = []
    result.reserveCapacity(Int(rank))
    for axis in 0..<Int(rank) {
        let extent = dims[axis]
        guard extent >= 0 else { throw DescentError(.shape, "negative extent \(extent) on axis \(axis)") }
        guard extent <= Int64(Int.max) else { throw DescentError(.shape, "extent \(extent) is too large") }
        result.append(Int(extent))
    }
    return result
}

/// Looks up a tensor argument.
@inline(__always)
func tensor(_ handle: UInt64, _ role: String) throws(DescentError) -> Tensor {
    try handles.lookup(handle, as: Tensor.self, role: role)
}

/// Checks an element count that arrived from C.
/// Makes sure `copies` blocks of `count` elements of `T` can be allocated before Swift arrays of a
/// caller-chosen size are made: Swift traps when an array's allocation fails, so such arrays are
/// preceded by one checked malloc of their total size, freed at once; out of memory is then
/// DESCENT_ERR_OUT_OF_MEMORY (found by the exhaustion stress, Tests/stress/stress_oom.c). A probe,
/// not a reservation: memory another thread takes in between would still trap.
func probeAllocation<T>(_: T.Type, count: Int, copies: Int = 1, _ what: String) throws(DescentError) {
    let (bytes, overflow) = MemoryLayout<T>.stride.multipliedReportingOverflow(by: count)
    let (total, overflowTotal) = bytes.multipliedReportingOverflow(by: copies)
    guard !overflow, !overflowTotal, dsupport_can_allocate(total) != 0 else {
        throw DescentError(.outOfMemory, "cannot allocate \(what) (\(count) elements)")
    }
}

func readCount(_ count: Int64, _ name: String) throws(DescentError) -> Int {
    guard count >= 0 else { throw DescentError(.invalidArgument, "\(name) \(count) is negative") }
    return Int(count)
}

@c public func descent_abi_version() -> UInt32 {
    abiVersion
}

@c public func descent_status_string(_ status: Int32) -> UnsafePointer<CChar>? {
    let text: StaticString
    if status == 0 {
        text = "DESCENT_OK"
    } else if let code = ErrorCode(rawValue: status) {
        text = code.name  // a string literal: NUL-terminated, lives forever
    } else {
        text = "DESCENT_ERR_UNKNOWN"
    }
    return UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
}

@c public func descent_last_error() -> UnsafePointer<CChar>? {
    dsupport_last_error()
}


@c public func descent_blas_name() -> UnsafePointer<CChar>? {
    dsupport_blas_name()
}

/// Reads a kernel path name from C.
private func kernelPath(_ name: UnsafePointer<CChar>?) throws(DescentError) -> KernelPath {
    guard let text = String(validatingCString: try required(name, "name")) else {
        throw DescentError(.invalidArgument, "name is not valid UTF-8")
    }
    return try KernelPath.named(text)
}

@c public func descent_isa(_ name: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32 {
    exported("descent_isa") { () throws(DescentError) in
        let out = try required(name, "name")
        let text = try KernelPath.current.staticName
        out.pointee = UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
    }
}

@c public func descent_set_isa(_ name: UnsafePointer<CChar>?) -> Int32 {
    exported("descent_set_isa") { () throws(DescentError) in
        try KernelPath.select(try kernelPath(name))
    }
}

@c public func descent_isa_available(_ name: UnsafePointer<CChar>?, _ available: UnsafeMutablePointer<Int32>?) -> Int32 {
    exported("descent_isa_available") { () throws(DescentError) in
        let out = try required(available, "available")
        out.pointee = try kernelPath(name).isAvailable ? 1 : 0
    }
}
