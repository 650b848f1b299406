"""NumPy references of the compact optimizer-state formats (docs/optimizers.md, "Compact state"),
written from the formulas, never calling descent: bfloat16 round-to-nearest-even and stochastic
rounding, the rounding key and hash, the 8-bit blockwise maps and block scales."""
import numpy as np

MASK64 = (1 << 64) - 1


def bf16_round_bits(x, increment):
    """float32 array -> uint16 bfloat16 bits: (bits + increment) >> 16, NaN kept as a quiet NaN."""
    u = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((u + increment.astype(np.uint64)) >> 16) & 0xFFFF
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    return np.where(nan, (u >> 16) | 0x40, rounded).astype(np.uint16)


def bf16_nearest_bits(x):
    u = np.asarray(x, np.float32).view(np.uint32)
    return bf16_round_bits(x, np.uint32(0x7FFF) + ((u >> 16) & 1))


def bf16_value(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def bf16_nearest(x):
    """x rounded to the nearest bfloat16 (ties to even), as float32."""
    return bf16_value(bf16_nearest_bits(x))


def mix64(z):
    z &= MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def rounding_key(seed, step, param, slot):
    return mix64(seed ^ mix64(((step * 0x9E3779B97F4A7C15) & MASK64) ^ ((param << 2) | slot))) & 0xFFFFFFFF


def lowbias32(x):
    x = np.asarray(x, np.uint32).copy()
    with np.errstate(over="ignore"):
        x ^= x >> np.uint32(16)
        x *= np.uint32(0x7FEB352D)
        x ^= x >> np.uint32(15)
        x *= np.uint32(0x846CA68B)
        x ^= x >> np.uint32(16)
    return x


def bf16_stochastic(x, key):
    """Stochastic rounding of x (element i of its tensor) with `key`: increment = hash(key ^ i) >> 16."""
    index = np.arange(np.asarray(x).size, dtype=np.uint64).astype(np.uint32)
    increment = lowbias32(np.uint32(key) ^ index) >> np.uint32(16)
    return bf16_value(bf16_round_bits(x, increment))


BLOCK = 256
MAPS = {True: (15, 127), False: (31, 255)}  # signed: (bias, top), unsigned


def q8_table(signed):
    """The map's magnitudes: value(0) = 0, value(c) = 2^(e - bias) (1 + f/8)."""
    bias, top = MAPS[signed]
    c = np.arange(top + 1)
    values = np.ldexp(1 + (c & 7) / 8.0, (c >> 3) - bias)
    values[0] = 0
    return values  # float64, exact


def q8_quantize(x, signed):
    """Per block of 256: s = 2^floor(log2 absmax); each |x|/s to the nearest map value (ties away
    from zero; below 1.0625 2^-bias -> 0; at or above 1.9375 -> the top). Returns (codes, scales)."""
    x = np.asarray(x, np.float32)
    bias, top = MAPS[signed]
    table = q8_table(signed)
    codes = np.zeros(x.size, np.uint8)
    scales = np.zeros((x.size + BLOCK - 1) // BLOCK, np.float32)
    for b in range(scales.size):
        part = x[b * BLOCK:(b + 1) * BLOCK].astype(np.float64)
        absmax = np.max(np.abs(part))
        if not np.isfinite(absmax):
            scales[b] = np.nan
            continue
        if absmax < np.finfo(np.float32).tiny:
            continue
        scale = 2.0 ** np.floor(np.log2(absmax))
        scales[b] = scale
        a = np.abs(part) / scale
        distance = np.abs(a[:, None] - table[None, :])
        # nearest; on a tie the larger code (ties away from zero): argmin over the reversed table
        nearest = top - np.argmin(distance[:, ::-1], axis=1)
        nearest[a < 1.0625 * 2.0 ** -bias] = 0
        nearest[a >= 1.9375] = top
        sign = (np.signbit(part) & signed).astype(np.uint8) << 7
        codes[b * BLOCK:(b + 1) * BLOCK] = nearest.astype(np.uint8) | sign
    return codes, scales


def q8_dequantize(codes, scales, signed):
    table = q8_table(signed).astype(np.float32)
    magnitude = table[codes & (0x7F if signed else 0xFF)]
    value = np.where(signed & (codes >= 128), -magnitude, magnitude).astype(np.float32)
    return value * np.repeat(scales, BLOCK)[:codes.size]


def q8_round(x, signed):
    """x through the 8-bit format and back, as float32."""
    return q8_dequantize(*q8_quantize(x, signed), signed)
