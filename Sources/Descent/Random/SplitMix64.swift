#if canImport(Glibc)
import Glibc
#endif

/// The random generator behind every seeded tensor: SplitMix64 (Steele, Lea & Flood 2014),
/// addressed by counter so that element `i` of a tensor depends only on the seed and `i`, never
/// on thread count or chunking.
///
/// Output `n` (n = 0, 1, 2, ...) of the stream for `seed` is
/// ```
/// z = seed &+ (n + 1) &* 0x9E3779B97F4A7C15
/// z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
/// z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
/// output = z ^ (z >> 31)
/// ```
/// which is exactly the sequential SplitMix64 generator started from state `seed`.
public struct SplitMix64: Sendable {
    /// The generator's state before its first output.
    public let seed: UInt64

    /// The stream started from `seed`.
    public init(seed: UInt64) { self.seed = seed }

    @inlinable
    /// Output `index` of the stream (random access by counter).
    public func output(_ index: UInt64) -> UInt64 {
        var z = seed &+ (index &+ 1) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform on [0, 1) with 53 random bits: `(output(n) >> 11) * 2^-53`.
    @inlinable
    public func unit53(_ index: UInt64) -> Double {
        Double(output(index) >> 11) * 0x1p-53
    }

    /// Uniform on [0, 1) with 24 random bits: `(output(n) >> 40) * 2^-24`.
    @inlinable
    public func unit24(_ index: UInt64) -> Double {
        Double(output(index) >> 40) * 0x1p-24
    }

    /// Standard normal for element `i` by the Box-Muller cosine branch over outputs `2i`, `2i+1`:
    /// `u1 = ((output(2i) >> 11) + 1) * 2^-53` (in (0, 1]), `u2 = unit53(2i+1)`,
    /// `sqrt(-2 ln u1) * cos(2 pi u2)`.
    @inlinable
    public func standardNormal(_ element: UInt64) -> Double {
        let u1 = Double((output(2 &* element) >> 11) &+ 1) * 0x1p-53
        let u2 = unit53(2 &* element &+ 1)
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

extension Tensor {
    /// Uniform values on [low, high): float64 elements are `low + (high - low) * unit53(i)`,
    /// float32 elements `Float(low + (high - low) * unit24(i))` (rounding can reach `high`).
    public static func randomUniform(seed: UInt64, low: Double, high: Double, dtype: DType,
                                     shape: [Int]) throws(DescentError) -> Tensor {
        guard low.isFinite, high.isFinite, (high - low).isFinite else {
            throw DescentError(.nonFinite, "uniform bounds must be finite (got \(low), \(high))")
        }
        guard low <= high else { throw .argument("uniform low \(low) exceeds high \(high)") }
        let tensor = try Tensor(uninitialized: dtype, shape: shape)
        let generator = SplitMix64(seed: seed)
        let width = high - low
        switch dtype {
        case .float32:
            let out = tensor.buffer(as: Float.self)
            for index in out.indices { out[index] = Float(low + width * generator.unit24(UInt64(index))) }
        case .float64:
            let out = tensor.buffer(as: Double.self)
            for index in out.indices { out[index] = low + width * generator.unit53(UInt64(index)) }
        }
        return tensor
    }

    /// Normal values `mean + std * standardNormal(i)`, computed in float64 and rounded to `dtype`.
    public static func randomNormal(seed: UInt64, mean: Double, std: Double, dtype: DType,
                                    shape: [Int]) throws(DescentError) -> Tensor {
        guard mean.isFinite, std.isFinite else {
            throw DescentError(.nonFinite, "normal mean and std must be finite (got \(mean), \(std))")
        }
        guard std >= 0 else { throw .argument("normal std \(std) is negative") }
        let tensor = try Tensor(uninitialized: dtype, shape: shape)
        let generator = SplitMix64(seed: seed)
        switch dtype {
        case .float32:
            let out = tensor.buffer(as: Float.self)
            for index in out.indices { out[index] = Float(mean + std * generator.standardNormal(UInt64(index))) }
        case .float64:
            let out = tensor.buffer(as: Double.self)
            for index in out.indices { out[index] = mean + std * generator.standardNormal(UInt64(index)) }
        }
        return tensor
    }
}
