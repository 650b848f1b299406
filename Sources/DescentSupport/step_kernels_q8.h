// The Adam family's update with 8-bit blockwise state (compact_state.h has the format), for one
// instruction set. Included by step_kernels_isa.h with ISA, SQRT and NAME(x) defined (float32
// only). Per block of DSUPPORT_Q8_BLOCK elements: decode both moments with the block's scales,
// run the rule's float32 update exactly as the full-state kernel writes it (step_kernels_type.h:
// same operations in the same order), keep the new moments in two small buffers while tracking
// their largest magnitudes, then encode them with the block's new scales. A block never spans two
// calls: callers split work at block boundaries (begin is a multiple of the block size).
// Traffic per element: param 4+4, gradient 4, codes 1+1 read and 1+1 written (16 bytes, and 16
// bytes of scales per 256 elements), against 28 with float32 moments.

#ifndef DSUPPORT_Q8_KINDS
#define DSUPPORT_Q8_KINDS
enum { Q8_ADAM = 0, Q8_NADAM = 1, Q8_RADAM = 2, Q8_ADAMAX = 3 };
#endif

static inline __attribute__((always_inline)) void NAME(q8_loop)(const dsupport_step_plan *k, int kind, int inside,
        int use_l2, float *restrict p, const float *restrict g, uint8_t *restrict m_codes,
        float *restrict m_scales, uint8_t *restrict v_codes, float *restrict v_scales, int64_t begin, int64_t end) {
    const T sign = (T)k->gradient_sign, lambda = (T)k->l2, decay = (T)k->decay;
    const T b1 = (T)k->beta1, c1 = (T)k->one_minus_beta1, b2 = (T)k->beta2, c2 = (T)k->one_minus_beta2;
    const T step = (T)k->step_size, scale = (T)k->scale2, eps = (T)k->epsilon, extra = (T)k->extra;
    const int adaptive = k->extra != 0;
    for (int64_t start = begin; start < end; start += DSUPPORT_Q8_BLOCK) {
        const int64_t stop = end - start < DSUPPORT_Q8_BLOCK ? end : start + DSUPPORT_Q8_BLOCK;
        const int64_t block = start / DSUPPORT_Q8_BLOCK, n = stop - start;
        const T m_scale = m_scales[block], v_scale = v_scales[block];
        float *restrict pb = p + start;
        const float *restrict gb = g + start;
        uint8_t *restrict mb = m_codes + start;
        uint8_t *restrict vb = v_codes + start;
        float firsts[DSUPPORT_Q8_BLOCK], seconds[DSUPPORT_Q8_BLOCK];
        uint32_t m_max = 0, v_max = 0;
        for (int64_t i = 0; i < n; i++) {
            const T w = pb[i];
            T gi = gb[i] * sign;
            if (use_l2) gi += lambda * w;
            // An element whose second moment reads 0 (below the map's range: under 2^-31 of its
            // block's largest) reads a first moment of 0 too, so that m / sqrt(v) stays bounded
            // (a first moment that outlived its second would be divided by epsilon alone).
            const uint8_t v_code = vb[i];
            const T m = v_code != 0 ? dsupport_q8_decode_signed(mb[i]) * m_scale : 0.0f;
            const T v = dsupport_q8_decode_unsigned(v_code) * v_scale;
            const T first = b1 * m + c1 * gi;
            T second;
            if (kind == Q8_ADAMAX) {
                const T decayed = b2 * v, magnitude = __builtin_elementwise_abs(gi) + eps;
                second = magnitude >= decayed ? magnitude : decayed;
                pb[i] = w * decay - step * first / second;
            } else {
                second = b2 * v + c2 * gi * gi;
                if (kind == Q8_ADAM) {
                    const T denominator = inside ? SQRT(second * scale + eps) : SQRT(second) * scale + eps;
                    pb[i] = w * decay - step * first / denominator;
                } else if (kind == Q8_NADAM) {
                    const T denominator = SQRT(second * scale) + eps;
                    pb[i] = w * decay - step * gi / denominator - extra * first / denominator;
                } else {
                    const T direction = adaptive ? first / (SQRT(second) + eps) : first;
                    pb[i] = w * decay - step * direction;
                }
            }
            firsts[i] = first;
            seconds[i] = second;
            const uint32_t fm = dsupport_bits(first) & 0x7FFFFFFFu, sm = dsupport_bits(second) & 0x7FFFFFFFu;
            m_max = fm > m_max ? fm : m_max;
            v_max = sm > v_max ? sm : v_max;
        }
        int32_t m_offset, v_offset;
        m_scales[block] = dsupport_q8_scale(m_max, 15, &m_offset);
        v_scales[block] = dsupport_q8_scale(v_max, 31, &v_offset);
        for (int64_t i = 0; i < n; i++) {
            mb[i] = dsupport_q8_encode_signed(firsts[i], m_offset);
            vb[i] = dsupport_q8_encode_unsigned(seconds[i], v_offset);
        }
    }
}

static void NAME(step)(const dsupport_step_plan *k, float *p, const float *g, uint8_t *m_codes,
                          float *m_scales, uint8_t *v_codes, float *v_scales, int64_t begin, int64_t end) {
    const int use_l2 = k->l2 != 0, inside = (k->flags & DSUPPORT_FLAG_EPS_INSIDE_SQRT) != 0;
    switch (k->rule) {
    case DSUPPORT_RULE_ADAM:
    case DSUPPORT_RULE_ADAMW:
        if (!use_l2 && !inside) NAME(q8_loop)(k, Q8_ADAM, 0, 0, p, g, m_codes, m_scales, v_codes, v_scales, begin, end);
        else NAME(q8_loop)(k, Q8_ADAM, inside, use_l2, p, g, m_codes, m_scales, v_codes, v_scales, begin, end);
        break;
    case DSUPPORT_RULE_NADAM:
        NAME(q8_loop)(k, Q8_NADAM, 0, use_l2, p, g, m_codes, m_scales, v_codes, v_scales, begin, end);
        break;
    case DSUPPORT_RULE_RADAM:
        NAME(q8_loop)(k, Q8_RADAM, 0, use_l2, p, g, m_codes, m_scales, v_codes, v_scales, begin, end);
        break;
    case DSUPPORT_RULE_ADAMAX:
        NAME(q8_loop)(k, Q8_ADAMAX, 0, use_l2, p, g, m_codes, m_scales, v_codes, v_scales, begin, end);
        break;
    default: break;
    }
}
