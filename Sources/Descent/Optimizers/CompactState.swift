import DescentSupport
#if canImport(Glibc)
import Glibc
#endif

/// How an optimizer stores its per-element state. Raw values are the C ABI's `DESCENT_STATE_*`.
/// Arithmetic is float32 in every format; only what is stored between steps changes.
public enum StateFormat: Int32, Sendable, CustomStringConvertible {
    /// The param's dtype (float32 or float64): 4 or 8 bytes per element per slot (default).
    case full = 0
    /// bfloat16 (the top 16 bits of a float32): 2 bytes per element per slot. Every stateful rule.
    case bfloat16 = 1
    /// 8-bit codes of a dynamic map in blocks of 256 elements, one float32 scale per block
    /// (Dettmers et al. 2022): ~1 byte per element per slot. Adam, AdamW (without AMSGrad),
    /// Adamax, NAdam, RAdam.
    case int8Blockwise = 2

    /// The case for a raw value from the C ABI; `.invalidArgument` for an unknown one.
    public init(checking raw: Int32) throws(DescentError) {
        guard let format = StateFormat(rawValue: raw) else {
            throw .argument("unknown state format \(raw) (0 full, 1 bfloat16, 2 int8 blockwise)")
        }
        self = format
    }

    /// The format's name ("full", "bfloat16", "int8 blockwise").
    public var description: String {
        switch self {
        case .full: return "full"
        case .bfloat16: return "bfloat16"
        case .int8Blockwise: return "int8 blockwise"
        }
    }
}

/// How float32 values are rounded to bfloat16 state. Raw values are `DESCENT_ROUND_*`.
public enum StateRounding: Int32, Sendable {
    /// Round to nearest, ties to even (default; the only rounding of the 8-bit format).
    case nearestEven = 0
    /// Stochastic rounding: up with probability equal to the distance from the lower neighbour,
    /// from a counter-based hash of (seed, step, param index, slot, element index), so results do
    /// not depend on the thread count or the instruction-set path.
    case stochastic = 1

    /// The case for a raw value from the C ABI; `.invalidArgument` for an unknown one.
    public init(checking raw: Int32) throws(DescentError) {
        guard let rounding = StateRounding(rawValue: raw) else {
            throw .argument("unknown state rounding \(raw) (0 nearest even, 1 stochastic)")
        }
        self = rounding
    }
}

/// One state slot of one param in a compact format: bfloat16 values, or 8-bit codes with one
/// float32 scale per block of `CompactBuffer.blockSize` elements (signed map for slot 0, the first
/// moment; unsigned for slot 1). Owns its memory (64-byte aligned).
public final class CompactBuffer {
    /// Elements per block of the 8-bit format.
    public static let blockSize = Int(DSUPPORT_Q8_BLOCK_SIZE)
    /// `.bfloat16` or `.int8Blockwise`.
    public let format: StateFormat
    /// 8-bit format: the signed map (first moments) or the unsigned one (second moments).
    public let isSigned: Bool
    /// Elements represented.
    public let count: Int
    /// bfloat16 values (2 bytes each) or 8-bit codes (1 byte each).
    let codes: UnsafeMutableRawPointer
    /// The 8-bit format's per-block scales (nil for bfloat16).
    let scales: UnsafeMutablePointer<Float>?

    /// Bytes of codes or bfloat16 values.
    public var codeByteCount: Int { format == .bfloat16 ? count * 2 : count }
    /// Blocks (scales) of the 8-bit format, 0 for bfloat16.
    public var scaleCount: Int { format == .int8Blockwise ? (count + Self.blockSize - 1) / Self.blockSize : 0 }
    /// Bytes of memory the state holds (codes and scales).
    public var byteCount: Int { codeByteCount + scaleCount * 4 }

    /// A zero-filled buffer (every element reads 0).
    init(format: StateFormat, count: Int, signed: Bool) throws(DescentError) {
        self.format = format
        self.count = count
        self.isSigned = signed
        let codeBytes = format == .bfloat16 ? count * 2 : count
        let blocks = format == .int8Blockwise ? (count + Self.blockSize - 1) / Self.blockSize : 0
        var memory: UnsafeMutableRawPointer? = nil
        guard posix_memalign(&memory, 64, max(codeBytes, 64)) == 0, let memory else {
            throw DescentError(.outOfMemory, "cannot allocate \(codeBytes) bytes of \(format) optimizer state")
        }
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: max(codeBytes, 64))
        if blocks > 0 {
            var scaleMemory: UnsafeMutableRawPointer? = nil
            guard posix_memalign(&scaleMemory, 64, blocks * 4) == 0, let scaleMemory else {
                free(memory)
                throw DescentError(.outOfMemory, "cannot allocate \(blocks * 4) bytes of state scales")
            }
            scales = scaleMemory.initializeMemory(as: Float.self, repeating: 0, count: blocks)
        } else {
            scales = nil
        }
        codes = memory
    }

    deinit {
        free(codes)
        if let scales { free(scales) }
    }

    /// A buffer holding `values` (count elements of float32) in `format`: bfloat16 rounded to
    /// nearest even, or 8-bit blockwise with the signed or unsigned map.
    static func encoding(_ values: UnsafePointer<Float>, count: Int, format: StateFormat,
                         signed: Bool) throws(DescentError) -> CompactBuffer {
        let buffer = try CompactBuffer(format: format, count: count, signed: signed)
        buffer.assign(values)
        return buffer
    }

    /// A buffer in which every element is `value` (rounded to the format).
    static func filled(_ value: Float, count: Int, format: StateFormat, signed: Bool) throws(DescentError) -> CompactBuffer {
        let buffer = try CompactBuffer(format: format, count: count, signed: signed)
        buffer.fill(value)
        return buffer
    }

    /// Overwrites every element from `values` (count float32s).
    func assign(_ values: UnsafePointer<Float>) {
        if format == .bfloat16 {
            dsupport_bf16_encode(values, codes.assumingMemoryBound(to: UInt16.self), Int64(count))
        } else if let scales {
            dsupport_q8_encode(values, Int64(count), isSigned ? 1 : 0, codes.assumingMemoryBound(to: UInt8.self), scales)
        }
    }

    /// Sets every element to `value` (rounded to the format).
    func fill(_ value: Float) {
        if format == .bfloat16 {
            var one = value
            var bits: UInt16 = 0
            dsupport_bf16_encode(&one, &bits, 1)
            codes.assumingMemoryBound(to: UInt16.self).update(repeating: bits, count: count)
        } else if let scales {
            // Every block holds the same value: encode one block's worth and repeat it.
            let length = min(count, Self.blockSize)
            var block = [Float](repeating: value, count: max(length, 1))
            var blockCodes = [UInt8](repeating: 0, count: max(length, 1))
            var scale: Float = 0
            dsupport_q8_encode(&block, Int64(length), isSigned ? 1 : 0, &blockCodes, &scale)
            codes.assumingMemoryBound(to: UInt8.self).update(repeating: blockCodes.first ?? 0, count: count)
            scales.update(repeating: scale, count: scaleCount)
        }
    }

    /// Writes the float32 values into `destination` (count elements).
    func decode(into destination: UnsafeMutablePointer<Float>) {
        if format == .bfloat16 {
            dsupport_bf16_decode(codes.assumingMemoryBound(to: UInt16.self), destination, Int64(count))
        } else if let scales {
            dsupport_q8_decode(codes.assumingMemoryBound(to: UInt8.self), scales, Int64(count), isSigned ? 1 : 0,
                               destination)
        }
    }

    /// An independent copy.
    func copy() throws(DescentError) -> CompactBuffer {
        let twin = try CompactBuffer(format: format, count: count, signed: isSigned)
        twin.copyContents(from: self)
        return twin
    }

    /// Copies the bytes of a buffer of the same format and count.
    func copyContents(from other: CompactBuffer) {
        guard other.format == format, other.count == count else { return }
        codes.copyMemory(from: other.codes, byteCount: codeByteCount)
        if let scales, let source = other.scales { scales.update(from: source, count: scaleCount) }
    }

    /// The raw bytes (codes, then scales) for checkpoints.
    func withBytes<R>(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> R) -> R {
        let scaleBytes = UnsafeRawBufferPointer(start: scales.map { UnsafeRawPointer($0) }, count: scaleCount * 4)
        return body(UnsafeRawBufferPointer(start: codes, count: codeByteCount), scaleBytes)
    }

    /// Overwrites codes and scales from checkpoint bytes (exactly codeByteCount and scaleCount * 4).
    func load(codes codeBytes: UnsafeRawBufferPointer, scales scaleBytes: UnsafeRawBufferPointer) {
        if let base = codeBytes.baseAddress { codes.copyMemory(from: base, byteCount: min(codeBytes.count, codeByteCount)) }
        if let scales, let base = scaleBytes.baseAddress {
            UnsafeMutableRawPointer(scales).copyMemory(from: base, byteCount: min(scaleBytes.count, scaleCount * 4))
        }
    }
}
