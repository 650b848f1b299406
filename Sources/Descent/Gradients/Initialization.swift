#if canImport(Glibc)
import Glibc
#endif

/// Seeded weight initialization, filling an existing tensor in place with the SplitMix64
/// counter generator (the same element formulas as `Tensor.randomNormal` / `randomUniform`):
/// element i of a normal scheme is `std · standardNormal(i)`, element i of a uniform scheme is
/// `-a + 2a · u(i)` (u = unit53 for float64, unit24 for float32).
///
/// Fans (PyTorch's rule): rank 1 → fan_in = fan_out = shape[0]; rank ≥ 2 → receptive =
/// Π shape[2...], fan_in = shape[1]·receptive, fan_out = shape[0]·receptive (so a dense weight
/// (out, in) has fan_in = in, fan_out = out).
///
/// | scheme         | distribution | parameter                              |
/// |----------------|--------------|----------------------------------------|
/// | normal         | N(0, std²)   | std = gain                             |
/// | uniform        | U(-a, a)     | a = gain                               |
/// | xavierNormal   | N(0, std²)   | std = gain · sqrt(2 / (fan_in + fan_out)) |
/// | xavierUniform  | U(-a, a)     | a = gain · sqrt(6 / (fan_in + fan_out)) |
/// | heNormal       | N(0, std²)   | std = gain · sqrt(2 / fan_in)          |
/// | heUniform      | U(-a, a)     | a = gain · sqrt(6 / fan_in)            |
///
/// C counterpart: `descent_init_fill`, `descent_init_fans`.
public enum WeightInit: Int32, Sendable, CaseIterable {
    case normal = 1
    case uniform = 2
    case xavierNormal = 3
    case xavierUniform = 4
    case heNormal = 5
    case heUniform = 6

    /// The case for a raw value from the C ABI; `.invalidArgument` for an unknown one.
    public init(checking raw: Int32) throws(DescentError) {
        guard let value = WeightInit(rawValue: raw) else {
            throw .argument("unknown initialization scheme \(raw) (expected 1...6)")
        }
        self = value
    }

    /// (fan_in, fan_out) for a weight shape; throws `.shape` for rank 0 or a zero fan.
    public static func fans(_ shape: [Int]) throws(DescentError) -> (fanIn: Int, fanOut: Int) {
        switch shape.count {
        case 0: throw .shape("fans are undefined for a rank-0 tensor")
        case 1:
            guard shape[0] > 0 else { throw .shape("fans are undefined for an empty tensor") }
            return (shape[0], shape[0])
        default:
            // Overflow-checked: a shape with a zero extent can still hold huge other extents.
            var receptive = 1
            for extent in shape.dropFirst(2) {
                let (product, overflow) = receptive.multipliedReportingOverflow(by: extent)
                guard !overflow else { throw .shape("fans of shape \(Shape.describe(shape)) overflow") }
                receptive = product
            }
            let (fanIn, inOverflow) = shape[1].multipliedReportingOverflow(by: receptive)
            let (fanOut, outOverflow) = shape[0].multipliedReportingOverflow(by: receptive)
            guard !inOverflow, !outOverflow else { throw .shape("fans of shape \(Shape.describe(shape)) overflow") }
            guard fanIn > 0, fanOut > 0 else { throw .shape("fans are undefined for shape \(Shape.describe(shape))") }
            return (fanIn, fanOut)
        }
    }

    /// The standard deviation (normal schemes) or bound a (uniform schemes) for `shape`.
    public func parameter(shape: [Int], gain: Double) throws(DescentError) -> Double {
        guard gain.isFinite, gain >= 0 else { throw .argument("gain must be finite and >= 0, got \(gain)") }
        switch self {
        case .normal, .uniform: return gain
        case .xavierNormal, .xavierUniform, .heNormal, .heUniform:
            let (fanIn, fanOut) = try Self.fans(shape)
            switch self {
            case .xavierNormal: return gain * (2 / Double(fanIn + fanOut)).squareRoot()
            case .xavierUniform: return gain * (6 / Double(fanIn + fanOut)).squareRoot()
            case .heNormal: return gain * (2 / Double(fanIn)).squareRoot()
            default: return gain * (6 / Double(fanIn)).squareRoot()
            }
        }
    }

    var isNormal: Bool { self == .normal || self == .xavierNormal || self == .heNormal }

    /// Fills `tensor` in place; on error it is unchanged.
    public func fill(_ tensor: Tensor, seed: UInt64, gain: Double) throws(DescentError) {
        let scale = try parameter(shape: tensor.shape, gain: gain)
        let generator = SplitMix64(seed: seed)
        switch tensor.dtype {
        case .float32:
            let out = tensor.buffer(as: Float.self)
            if isNormal {
                for i in out.indices { out[i] = Float(scale * generator.standardNormal(UInt64(i))) }
            } else {
                for i in out.indices { out[i] = Float(-scale + 2 * scale * generator.unit24(UInt64(i))) }
            }
        case .float64:
            let out = tensor.buffer(as: Double.self)
            if isNormal {
                for i in out.indices { out[i] = scale * generator.standardNormal(UInt64(i)) }
            } else {
                for i in out.indices { out[i] = -scale + 2 * scale * generator.unit53(UInt64(i)) }
            }
        }
    }
}
