#if canImport(Glibc)
import Glibc
#endif
import DescentSupport

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

/// Writes a file atomically: bytes go to a temporary file beside it, `<path>.tmp-<pid>-<16 hex
/// digits>` (a name no other save uses, so concurrent saves to one path from threads or
/// processes never share one), created exclusively and flock'ed while it is written; it is
/// fsync'ed, renamed over `path` (then the directory is fsync'ed). Before creating its own file a
/// save removes the temporary files of `path` that dead saves left behind (nobody holds their
/// lock and their process is gone; see `dsupport_temporary_sweep`), so a crash leaves at most one
/// and the next save cleans it up. Little-endian fields; a running FNV-1a-64 over everything
/// written after `startChecksum()`.
///
/// Every allocation (the name, the 64 KiB buffer) is a checked `malloc` made before anything
/// touches the disk: out of memory is `.outOfMemory` with no file created.
struct AtomicFileWriter: ~Copyable {
    static let bufferCapacity = 1 << 16

    let path: String
    private let temporaryName: UnsafeMutablePointer<CChar>
    private var descriptor: Int32
    private let buffer: UnsafeMutableRawPointer
    private var buffered = 0
    private var checksum = FNV1a64()
    private var checksumming = false
    private(set) var payloadLength: UInt64 = 0
    private var finished = false
    /// The first write error; later writes are skipped and `commit` throws it.
    private var failure: DescentError?

    init(path: String) throws(DescentError) {
        guard !path.isEmpty else { throw .argument("path is empty") }
        let capacity = path.withCString { dsupport_temporary_name_capacity($0) }
        guard let name = malloc(capacity)?.assumingMemoryBound(to: CChar.self) else {
            throw DescentError(.outOfMemory, "cannot allocate memory for the temporary file name")
        }
        guard let buffer = malloc(Self.bufferCapacity) else {
            free(name)
            throw DescentError(.outOfMemory, "cannot allocate the 64 KiB write buffer")
        }
        let descriptor = path.withCString { (cPath) -> Int32 in
            dsupport_temporary_sweep(cPath)
            return dsupport_temporary_create(cPath, name, capacity)
        }
        guard descriptor >= 0 else {
            let reason = errno
            free(name)
            free(buffer)
            throw DescentError(.io, "cannot create a temporary file beside \(path): \(String(cString: strerror(reason)))")
        }
        self.path = path
        self.temporaryName = name
        self.descriptor = descriptor
        self.buffer = buffer
    }

    deinit {
        if !finished {
            if descriptor >= 0 { close(descriptor) }
            unlink(temporaryName)
        }
        free(temporaryName)
        free(buffer)
    }

    private var temporaryPath: String { String(cString: temporaryName) }

    mutating func startChecksum() {
        flush()
        checksumming = true
    }

    var checksumValue: UInt64 { checksum.value }

    mutating func bytes(_ raw: UnsafeRawBufferPointer) {
        if checksumming {
            checksum.update(raw)
            payloadLength += UInt64(raw.count)
        }
        if raw.count >= Self.bufferCapacity / 2 {
            flush()
            writeAll(raw)
            return
        }
        if buffered + raw.count > Self.bufferCapacity { flush() }
        if let base = raw.baseAddress, raw.count > 0 {
            (buffer + buffered).copyMemory(from: base, byteCount: raw.count)
            buffered += raw.count
        }
        if buffered == Self.bufferCapacity { flush() }
    }

    mutating func integer<I: FixedWidthInteger>(_ value: I) {
        var little = value.littleEndian
        withUnsafeBytes(of: &little) { raw in bytes(raw) }
    }

    mutating func double(_ value: Double) { integer(value.bitPattern) }

    private mutating func flush() {
        if buffered == 0 { return }
        writeAll(UnsafeRawBufferPointer(start: buffer, count: buffered))
        buffered = 0
    }

    private mutating func writeAll(_ raw: UnsafeRawBufferPointer) {
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
    mutating func patch(at offset: Int, _ raw: UnsafeRawBufferPointer) {
        flush()
        guard failure == nil, let base = raw.baseAddress else { return }
        if pwrite(descriptor, base, raw.count, off_t(offset)) != raw.count {
            failure = DescentError(.io, "cannot write \(temporaryPath): \(String(cString: strerror(errno)))")
        }
    }

    /// fsync, rename over the destination (still holding the temporary file's lock, so no sweep
    /// can take it for a dead save's), close, fsync the directory.
    mutating func commit() throws(DescentError) {
        flush()
        if let failure { throw failure }
        guard fsync(descriptor) == 0 else {
            throw DescentError(.io, "fsync \(temporaryPath) failed: \(String(cString: strerror(errno)))")
        }
        guard rename(temporaryName, path) == 0 else {
            throw DescentError(.io, "cannot rename \(temporaryPath) to \(path): \(String(cString: strerror(errno)))")
        }
        finished = true
        close(descriptor)  // the data is on disk (fsync above); a late close error changes nothing
        descriptor = -1
        path.withCString { dsupport_fsync_directory_of($0) }
    }
}

/// Reads the whole file at `path` into one checked `malloc` block (out of memory is
/// `.outOfMemory`, never a trap) and runs `body` on it; the block is freed afterwards.
func withWholeFile<Result>(_ path: String,
                           _ body: (UnsafeRawBufferPointer) throws(DescentError) -> Result) throws(DescentError) -> Result {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else {
        throw DescentError(.io, "cannot open \(path): \(String(cString: strerror(errno)))")
    }
    defer { close(descriptor) }
    var info = stat()
    guard fstat(descriptor, &info) == 0 else {
        throw DescentError(.io, "cannot read \(path): \(String(cString: strerror(errno)))")
    }
    // One byte more than the size, to see the end of file without growing; pipes and files
    // that grow meanwhile double the block.
    var capacity = max(Int(info.st_size), 0) + 1
    guard var block = malloc(capacity) else {
        throw DescentError(.outOfMemory, "cannot allocate memory to read the checkpoint file")
    }
    var count = 0
    while true {
        if count == capacity {
            let (doubled, overflow) = capacity.multipliedReportingOverflow(by: 2)
            guard !overflow, let grown = realloc(block, doubled) else {
                free(block)
                throw DescentError(.outOfMemory, "cannot allocate memory to read the checkpoint file")
            }
            block = grown
            capacity = doubled
        }
        let got = read(descriptor, block + count, capacity - count)
        if got < 0 {
            if errno == EINTR { continue }
            let reason = errno
            free(block)
            throw DescentError(.io, "cannot read \(path): \(String(cString: strerror(reason)))")
        }
        if got == 0 { break }
        count += got
    }
    defer { free(block) }
    return try body(UnsafeRawBufferPointer(start: block, count: count))
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
