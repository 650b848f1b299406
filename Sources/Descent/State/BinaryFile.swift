#if canImport(Glibc)
import Glibc
#endif

/// FNV-1a, 64-bit: offset basis 0xcbf29ce484222325, prime 0x100000001b3; for each byte b,
/// hash = (hash ^ b) * prime (mod 2^64). The checkpoint checksum.
struct FNV1a64 {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var hash = value
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        value = hash
    }
}

/// Writes a file atomically: bytes go to `<path>.tmp-<pid>`, which is fsync'ed, closed and
/// renamed over `path` (then the directory is fsync'ed). Little-endian fields; a running
/// FNV-1a-64 over everything written after `startChecksum()`.
final class AtomicFileWriter {
    let path: String
    let temporaryPath: String
    private var descriptor: Int32
    private var buffer: [UInt8] = []
    private var checksum = FNV1a64()
    private var checksumming = false
    private(set) var payloadLength: UInt64 = 0
    private var finished = false

    init(path: String) throws(DescentError) {
        guard !path.isEmpty else { throw .argument("path is empty") }
        self.path = path
        self.temporaryPath = path + ".tmp-\(getpid())"
        descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw DescentError(.io, "cannot create \(temporaryPath): \(String(cString: strerror(errno)))")
        }
        buffer.reserveCapacity(1 << 16)
    }

    deinit {
        if !finished {
            if descriptor >= 0 { close(descriptor) }
            unlink(temporaryPath)
        }
    }

    func startChecksum() {
        flush()
        checksumming = true
    }

    var checksumValue: UInt64 { checksum.value }

    /// The first write error; later writes are skipped and `commit` throws it.
    private var failure: DescentError?

    func bytes(_ raw: UnsafeRawBufferPointer) {
        if checksumming {
            checksum.update(raw)
            payloadLength += UInt64(raw.count)
        }
        if raw.count >= 1 << 15 {
            flush()
            writeAll(raw)
        } else {
            buffer.append(contentsOf: raw)
            if buffer.count >= 1 << 16 { flush() }
        }
    }

    func integer<I: FixedWidthInteger>(_ value: I) {
        var little = value.littleEndian
        withUnsafeBytes(of: &little) { raw in bytes(raw) }
    }

    func double(_ value: Double) { integer(value.bitPattern) }

    private func flush() {
        if buffer.isEmpty { return }
        buffer.withUnsafeBytes { raw in writeAll(raw) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ raw: UnsafeRawBufferPointer) {
        guard failure == nil, let base = raw.baseAddress else { return }
        var offset = 0
        while offset < raw.count {
            let written = write(descriptor, base + offset, raw.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                failure = DescentError(.io, "cannot write \(temporaryPath): \(String(cString: strerror(errno)))")
                return
            }
            offset += written
        }
    }

    /// Overwrites `raw` at byte `offset` (for the header, once the payload is known).
    func patch(at offset: Int, _ raw: UnsafeRawBufferPointer) {
        flush()
        guard failure == nil, let base = raw.baseAddress else { return }
        if pwrite(descriptor, base, raw.count, off_t(offset)) != raw.count {
            failure = DescentError(.io, "cannot write \(temporaryPath): \(String(cString: strerror(errno)))")
        }
    }

    /// fsync, close, rename over the destination, fsync the directory.
    func commit() throws(DescentError) {
        flush()
        if let failure { throw failure }
        guard fsync(descriptor) == 0 else {
            throw DescentError(.io, "fsync \(temporaryPath) failed: \(String(cString: strerror(errno)))")
        }
        let closed = close(descriptor)
        descriptor = -1
        guard closed == 0 else { throw DescentError(.io, "close \(temporaryPath) failed") }
        guard rename(temporaryPath, path) == 0 else {
            throw DescentError(.io, "cannot rename \(temporaryPath) to \(path): \(String(cString: strerror(errno)))")
        }
        finished = true
        var directory = "."
        if let slash = path.lastIndex(of: "/") { directory = slash == path.startIndex ? "/" : String(path[..<slash]) }
        let directoryDescriptor = open(directory, O_RDONLY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            _ = fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }
}

/// Reads a whole file into memory.
func readWholeFile(_ path: String) throws(DescentError) -> [UInt8] {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else {
        throw DescentError(.io, "cannot open \(path): \(String(cString: strerror(errno)))")
    }
    defer { close(descriptor) }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = chunk.withUnsafeMutableBytes { raw in read(descriptor, raw.baseAddress, raw.count) }
        if count < 0 {
            if errno == EINTR { continue }
            throw DescentError(.io, "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        if count == 0 { break }
        result.append(contentsOf: chunk[0..<count])
    }
    return result
}

/// Bounds-checked little-endian reads; running past the end is `.corrupt` (a truncated file).
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    mutating func take(_ count: Int) throws(DescentError) -> UnsafeRawBufferPointer {
        guard count >= 0, count <= remaining else {
            throw DescentError(.corrupt, "checkpoint ends early (needed \(count) more bytes at offset \(offset))")
        }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
        offset += count
        return slice
    }

    mutating func integer<I: FixedWidthInteger>(_: I.Type) throws(DescentError) -> I {
        let raw = try take(MemoryLayout<I>.size)
        var value = I.zero
        withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: raw) }
        return I(littleEndian: value)
    }

    mutating func double() throws(DescentError) -> Double {
        Double(bitPattern: try integer(UInt64.self))
    }
}
