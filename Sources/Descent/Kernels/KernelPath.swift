import DescentSupport

/// The instruction-set path the optimizer update kernels run on (Sources/DescentSupport/
/// step_kernels.c): the same C loops compiled for baseline x86-64 (SSE2), AVX2 and AVX-512.
/// Chosen once per process, at the first step: `$DESCENT_ISA` when set, else the widest path the
/// CPU has. Every path rounds every operation identically (no contraction into fused
/// multiply-adds), so results are bit-identical whichever runs: a run reproduces on any x86-64.
/// C counterparts: `descent_isa`, `descent_set_isa`, `descent_isa_available`.
public enum KernelPath: String, CaseIterable, Sendable {
    /// SSE2, which every x86-64 CPU has (and the portable loops elsewhere).
    case baseline
    /// 256-bit AVX2 vectors.
    case avx2
    /// 512-bit AVX-512 vectors (F, VL, BW and DQ).
    case avx512

    var number: Int32 {
        switch self {
        case .baseline: return Int32(DSUPPORT_ISA_BASELINE)
        case .avx2: return Int32(DSUPPORT_ISA_AVX2)
        case .avx512: return Int32(DSUPPORT_ISA_AVX512)
        }
    }

    /// The name as a NUL-terminated static string (for the C ABI).
    public var staticName: StaticString {
        switch self {
        case .baseline: return "baseline"
        case .avx2: return "avx2"
        case .avx512: return "avx512"
        }
    }

    /// Whether this CPU can run the path.
    public var isAvailable: Bool { dsupport_isa_available(number) != 0 }

    /// The paths this CPU can run, narrowest first.
    public static var available: [KernelPath] { allCases.filter(\.isAvailable) }

    /// The path in use (choosing it now if no step ran yet). Fails with `.unsupported` when
    /// `$DESCENT_ISA` names an unknown path or one this CPU lacks; every step then fails the same
    /// way until `select` picks an available path.
    public static var current: KernelPath {
        get throws(DescentError) {
            let number = dsupport_isa_select()
            guard number >= 0 else { throw selectionError() }
            return allCases.first { $0.number == number } ?? .baseline
        }
    }

    /// Switches every later step to `path`; `.unsupported` (and no change) if the CPU lacks it.
    /// Safe while other threads step: any chunk runs on one path or the other, with the same bits.
    public static func select(_ path: KernelPath) throws(DescentError) {
        guard dsupport_isa_set(path.number) == 0 else {
            let have = available.map(\.rawValue).joined(separator: ", ")
            throw DescentError(.unsupported, "this CPU cannot run the \(path.rawValue) kernels (available: \(have))")
        }
    }

    /// The path named `name` ("baseline", "avx2", "avx512").
    public static func named(_ name: String) throws(DescentError) -> KernelPath {
        guard let path = KernelPath(rawValue: name) else {
            throw .argument("unknown kernel path '\(name)'; expected baseline, avx2 or avx512")
        }
        return path
    }

    /// Throws when the kernels cannot run (an unusable `$DESCENT_ISA`); called before each step.
    @inline(__always)
    static func requireUsable() throws(DescentError) {
        if dsupport_isa_select() < 0 { throw selectionError() }
    }

    private static func selectionError() -> DescentError {
        DescentError(.unsupported, String(cString: dsupport_isa_selection_error())
                     + "; unset it or call descent_set_isa with an available path")
    }
}

/// Elementwise loops that live in C (Sources/DescentSupport/step_kernels_type.h) so that they run
/// on the selected instruction-set path, branch-free.
enum Kernels {
    /// out := x unless x <= 0 (NaN propagates; -0 becomes +0). `out` may be `x`.
    @inline(__always)
    static func relu<T: DescentScalar>(_ x: UnsafeMutablePointer<T>, _ out: UnsafeMutablePointer<T>, _ count: Int) {
        if MemoryLayout<T>.size == 4 {
            dsupport_relu_f32(UnsafeRawPointer(x).assumingMemoryBound(to: Float.self),
                              UnsafeMutableRawPointer(out).assumingMemoryBound(to: Float.self), Int64(count))
        } else {
            dsupport_relu_f64(UnsafeRawPointer(x).assumingMemoryBound(to: Double.self),
                              UnsafeMutableRawPointer(out).assumingMemoryBound(to: Double.self), Int64(count))
        }
    }

    /// dx := g where x > 0, else 0. `dx` may be `g`.
    @inline(__always)
    static func reluBackward<T: DescentScalar>(_ x: UnsafeMutablePointer<T>, _ g: UnsafeMutablePointer<T>,
                                               _ dx: UnsafeMutablePointer<T>, _ count: Int) {
        if MemoryLayout<T>.size == 4 {
            dsupport_relu_backward_f32(UnsafeRawPointer(x).assumingMemoryBound(to: Float.self),
                                       UnsafeRawPointer(g).assumingMemoryBound(to: Float.self),
                                       UnsafeMutableRawPointer(dx).assumingMemoryBound(to: Float.self), Int64(count))
        } else {
            dsupport_relu_backward_f64(UnsafeRawPointer(x).assumingMemoryBound(to: Double.self),
                                       UnsafeRawPointer(g).assumingMemoryBound(to: Double.self),
                                       UnsafeMutableRawPointer(dx).assumingMemoryBound(to: Double.self), Int64(count))
        }
    }
}
