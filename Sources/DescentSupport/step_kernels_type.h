// The optimizer update loops for one element type, one state format and one instruction set.
// Included by step_kernels_isa.h once per (ISA, type, state format) with these macros defined:
//   T             float or double: the parameter, the gradient and all arithmetic
//   S             the state's element type: T (full state) or uint16_t (bfloat16 state)
//   LOAD(s, i)    state element i of buffer s as a T
//   STORE(slot, s, i, x)   writes x (a T) to state element i of s, the buffer of state slot
//                 `slot` (bfloat16: rounded to nearest even, or stochastically from that slot's key)
//   SQRT          an errno-free IEEE square root of T
//   NAME(x)       the variant's name for function x (e.g. x_avx2_f32, x_avx512_bf16s)
//   DSUPPORT_STATE_COMPACT   defined for the bfloat16 variants (no finiteness scan is emitted)
// The loops are plain C: the compiler vectorizes them for the enclosing target attribute. The
// file is compiled with floating-point contraction off, so every path rounds each + - * / sqrt
// exactly once, in the order written here, and results are bit-identical on every path. A state
// element is read once and written once per update, so rounding it to bfloat16 on the store is
// the only difference between full and compact state (arithmetic stays in T = float32).
//
// Each kernel's formula is written above it; the per-step scalars (bias corrections, decayed
// rates, NAdam's schedule, RAdam's rectification) come from Sources/Descent/Optimizers/
// StepPlan.swift. Keep the operation order when editing: it is what the PyTorch-trajectory
// tests pin down.

// The gradient preparation every rule shares:
//     g := -g                 if maximize
//     g := g + λ W            L2 weight decay (default)
//     W := W (1 - lr λ)       decoupled weight decay (flag), applied as `w * decay` in the update
// Bias corrections and every other per-step scalar are computed in double precision by the Swift
// StepPlan (t starts at 1) and converted to T once per call.
#define PREPARE() \
    const T w = p[i]; /* loaded unconditionally: a conditional load would block vectorization */ \
    T gi = g[i] * sign; \
    if (use_l2) gi += lambda * w;

#define SCALARS() \
    const T sign = (T)k->gradient_sign, lambda = (T)k->l2, decay = (T)k->decay; \
    const uint32_t key0 = k->keys[0], key1 = k->keys[1], key2 = k->keys[2]; \
    (void)sign; (void)lambda; (void)decay; (void)key0; (void)key1; (void)key2;

// SGD (PyTorch `torch.optim.SGD`; C `descent_sgd_step`), t = step count starting at 1:
// plain (μ = 0):          W := W - lr g
// PyTorch momentum:       b := g                      if t == 1
//                         b := μ b + (1 - τ) g        otherwise   (τ = dampening)
//                         d := g + μ b (Nesterov) or d := b;   W := W - lr d
// exponential average:    v := μ v + (1 - μ) g;   W := W - lr v   (deeplearning.ai notes, v starts at 0)
// cs231n:                 v := μ v - lr g;        W := W + v     (v starts at 0)
static inline __attribute__((always_inline)) void NAME(sgd_plain)(const dsupport_step_plan *k, T *restrict p,
        const T *restrict g, int use_l2, int64_t begin, int64_t end) {
    SCALARS()
    const T lr = (T)k->learning_rate;
    for (int64_t i = begin; i < end; i++) {
        PREPARE()
        p[i] = w * decay - lr * gi;
    }
}

static inline __attribute__((always_inline)) void NAME(sgd_cs231n)(const dsupport_step_plan *k, T *restrict p,
        const T *restrict g, S *restrict b, int use_l2, int64_t begin, int64_t end) {
    SCALARS()
    const T lr = (T)k->learning_rate, mu = (T)k->beta1;
    for (int64_t i = begin; i < end; i++) {
        PREPARE()
        const T v = mu * LOAD(b, i) - lr * gi;
        STORE(0, b, i, v);
        p[i] = w * decay + v;
    }
}

static inline __attribute__((always_inline)) void NAME(sgd_momentum)(const dsupport_step_plan *k, T *restrict p,
        const T *restrict g, S *restrict b, int copy_first, int nesterov, int use_l2, int64_t begin, int64_t end) {
    SCALARS()
    const T lr = (T)k->learning_rate, mu = (T)k->beta1, keep = (T)k->one_minus_beta1;
    for (int64_t i = begin; i < end; i++) {
        PREPARE()
        const T v = copy_first ? gi : mu * LOAD(b, i) + keep * gi;
        STORE(0, b, i, v);
        const T direction = nesterov ? gi + mu * v : v;
        p[i] = w * decay - lr * direction;
    }
}

static void NAME(sgd)(const dsupport_step_plan *k, T *restrict p, const T *restrict g, S *restrict b,
                      int64_t begin, int64_t end) {
    const int use_l2 = k->l2 != 0;
    if (b == NULL || k->beta1 == 0) {
        if (use_l2) NAME(sgd_plain)(k, p, g, 1, begin, end); else NAME(sgd_plain)(k, p, g, 0, begin, end);
        return;
    }
    if (k->flags & DSUPPORT_FLAG_CS231N_MOMENTUM) {
        NAME(sgd_cs231n)(k, p, g, b, use_l2, begin, end);
        return;
    }
    const int copy_first = k->first_step && !(k->flags & DSUPPORT_FLAG_EXPONENTIAL_AVERAGE);
    const int nesterov = (k->flags & DSUPPORT_FLAG_NESTEROV) != 0;
    // Constant arguments to an always-inlined loop give one specialised loop per common case.
    if (!copy_first && !nesterov && !use_l2) NAME(sgd_momentum)(k, p, g, b, 0, 0, 0, begin, end);
    else if (!copy_first && nesterov && !use_l2) NAME(sgd_momentum)(k, p, g, b, 0, 1, 0, begin, end);
    else NAME(sgd_momentum)(k, p, g, b, copy_first, nesterov, use_l2, begin, end);
}

// Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"; C `descent_lion_step`):
// c := β1 m + (1 - β1) g;   W := W - lr sign(c);   m := β2 m + (1 - β2) g
// sign(0) = 0 and sign(NaN) = NaN (as NumPy's and PyTorch's sign): a NaN gradient under the
// `proceed` policy reaches the parameter, as it does for every other rule, instead of freezing
// that element (its exp_avg stays NaN, and a sign of 0 would stop it forever).
// Weight decay is usually decoupled for Lion (the Python class's default).
static void NAME(lion)(const dsupport_step_plan *k, T *restrict p, const T *restrict g, S *restrict m,
                       int64_t begin, int64_t end) {
    SCALARS()
    const int use_l2 = k->l2 != 0;
    const T lr = (T)k->learning_rate, b1 = (T)k->beta1, c1 = (T)k->one_minus_beta1;
    const T b2 = (T)k->beta2, c2 = (T)k->one_minus_beta2;
    for (int64_t i = begin; i < end; i++) {
        PREPARE()
        const T mi = LOAD(m, i);
        const T c = b1 * mi + c1 * gi;
        const T direction = c > 0 ? (T)1 : (c < 0 ? (T)-1 : (c == c ? (T)0 : c));  // sign(NaN) = NaN
        p[i] = w * decay - lr * direction;
        STORE(0, m, i, b2 * mi + c2 * gi);
    }
}

// Adagrad (PyTorch `torch.optim.Adagrad`; C `descent_adagrad_step`), t starting at 1:
// clr := lr / (1 + (t - 1) η)          (η = lr_decay)
// s   := s + g²                         (s starts at initial_accumulator_value)
// W   := W - clr g / (sqrt(s) + ε)      or  / sqrt(s + ε)  with eps-inside-sqrt
static void NAME(adagrad)(const dsupport_step_plan *k, T *restrict p, const T *restrict g, S *restrict s,
                          int64_t begin, int64_t end) {
    SCALARS()
    const int use_l2 = k->l2 != 0, inside = (k->flags & DSUPPORT_FLAG_EPS_INSIDE_SQRT) != 0;
    const T clr = (T)k->step_size, eps = (T)k->epsilon;
    for (int64_t i = begin; i < end; i++) {
        PREPARE()
        const T sum = LOAD(s, i) + gi * gi;
        STORE(0, s, i, sum);
        const T denominator = inside ? SQRT(sum + eps) : SQRT(sum) + eps;
        p[i] = w * decay - clr * gi / denominator;
    }
}

// Adadelta (PyTorch `torch.optim.Adadelta`; C `descent_adadelta_step`):
// v := ρ v + (1 - ρ) g²
// Δ := sqrt(u + ε) / sqrt(v + ε) · g
// u := ρ u + (1 - ρ) Δ²
// W := W - lr Δ
// v (square_avg) and u (acc_delta) start at 0.
static void NAME(adadelta)(const dsupport_step_plan *k, T *restrict p, const T *restrict g, S *restrict v,
                           S *restrict u, int64_t begin, int64_t end) {
    SCALARS()
    const int use_l2 = k->l2 != 0;
    const T lr = (T)k->learning_rate, rho = (T)k->beta2, keep = (T)k->one_minus_beta2, eps = (T)k->epsilon;
    for (int64_t i = begin; i < end; i++) {
        PREPARE()
        const T square = rho * LOAD(v, i) + keep * gi * gi;
        STORE(0, v, i, square);
        const T ui = LOAD(u, i);
        const T delta = SQRT(ui + eps) / SQRT(square + eps) * gi;
        STORE(1, u, i, rho * ui + keep * delta * delta);
        p[i] = w * decay - lr * delta;
    }
}

// RMSprop (PyTorch `torch.optim.RMSprop`; C `descent_rmsprop_step`):
// v := α v + (1 - α) g²
// centered:   ḡ := α ḡ + (1 - α) g;   d := sqrt(v - ḡ²) + ε
// otherwise:  d := sqrt(v) + ε        (eps-inside-sqrt: sqrt(v [- ḡ²] + ε))
// μ > 0:      b := μ b + g / d;   W := W - lr b
// μ = 0:      W := W - lr g / d
// v (square_avg), ḡ (grad_avg) and b (momentum_buffer) start at 0.
static inline __attribute__((always_inline)) void NAME(rmsprop_loop)(const dsupport_step_plan *k, T *restrict p,
        const T *restrict g, S *restrict v, S *restrict centered, S *restrict momentum_buffer, int use_l2,
        int inside, int64_t begin, int64_t end) {
    SCALARS()
    const T lr = (T)k->learning_rate, alpha = (T)k->beta2, keep = (T)k->one_minus_beta2;
    const T eps = (T)k->epsilon, mu = (T)k->beta1;
    for (int64_t i = begin; i < end; i++) {
        PREPARE()
        const T square = alpha * LOAD(v, i) + keep * gi * gi;
        STORE(0, v, i, square);
        T centered_square = square;
        if (centered) {
            const T mean = alpha * LOAD(centered, i) + keep * gi;
            STORE(1, centered, i, mean);
            centered_square = square - mean * mean;
        }
        const T denominator = inside ? SQRT(centered_square + eps) : SQRT(centered_square) + eps;
        if (momentum_buffer) {
            const T b = mu * LOAD(momentum_buffer, i) + gi / denominator;
            STORE(2, momentum_buffer, i, b);
            p[i] = w * decay - lr * b;
        } else {
            p[i] = w * decay - lr * gi / denominator;
        }
    }
}

static void NAME(rmsprop)(const dsupport_step_plan *k, T *restrict p, const T *restrict g, S *restrict v,
                          S *restrict average, S *restrict buffer, int64_t begin, int64_t end) {
    S *centered = (k->flags & DSUPPORT_FLAG_CENTERED) ? average : NULL;
    S *momentum_buffer = k->beta1 != 0 ? buffer : NULL;
    const int use_l2 = k->l2 != 0, inside = (k->flags & DSUPPORT_FLAG_EPS_INSIDE_SQRT) != 0;
    if (!use_l2 && !inside) {
        if (!centered && !momentum_buffer) NAME(rmsprop_loop)(k, p, g, v, NULL, NULL, 0, 0, begin, end);
        else if (!centered) NAME(rmsprop_loop)(k, p, g, v, NULL, momentum_buffer, 0, 0, begin, end);
        else if (!momentum_buffer) NAME(rmsprop_loop)(k, p, g, v, centered, NULL, 0, 0, begin, end);
        else NAME(rmsprop_loop)(k, p, g, v, centered, momentum_buffer, 0, 0, begin, end);
        return;
    }
    NAME(rmsprop_loop)(k, p, g, v, centered, momentum_buffer, use_l2, inside, begin, end);
}

// Adam (PyTorch `torch.optim.Adam`; C `descent_adam_step`) and AdamW (`descent_adamw_step`,
// the same with decoupled weight decay `W := W (1 - lr λ)`):
// m := β1 m + (1 - β1) g
// v := β2 v + (1 - β2) g²
// AMSGrad:  v̂ := max(v̂, v), and v̂ replaces v below
// c1 := 1 - β1^t,  c2 := 1 - β2^t       (both 1 without bias correction)
// W := W - (lr / c1) m / (sqrt(v) / sqrt(c2) + ε)       or  / sqrt(v / c2 + ε)  (eps inside)
static inline __attribute__((always_inline)) void NAME(adam_loop)(const dsupport_step_plan *k, T *restrict p,
        const T *restrict g, S *restrict m, S *restrict v, S *restrict v_max, int inside, int use_l2,
        int64_t begin, int64_t end) {
    SCALARS()
    const T b1 = (T)k->beta1, c1 = (T)k->one_minus_beta1, b2 = (T)k->beta2, c2 = (T)k->one_minus_beta2;
    const T step = (T)k->step_size, scale = (T)k->scale2, eps = (T)k->epsilon;
    for (int64_t i = begin; i < end; i++) {
        PREPARE()
        const T first = b1 * LOAD(m, i) + c1 * gi;
        T second = b2 * LOAD(v, i) + c2 * gi * gi;
        STORE(0, m, i, first);
        STORE(1, v, i, second);
        if (v_max) {
            const T previous = LOAD(v_max, i);
            second = second >= previous ? second : previous;  // Swift.max(previous, second), NaN included
            STORE(2, v_max, i, second);
        }
        const T denominator = inside ? SQRT(second * scale + eps) : SQRT(second) * scale + eps;
        p[i] = w * decay - step * first / denominator;
    }
}

static void NAME(adam)(const dsupport_step_plan *k, T *restrict p, const T *restrict g, S *restrict m,
                       S *restrict v, S *restrict v_max, int64_t begin, int64_t end) {
    S *amsgrad = (k->flags & DSUPPORT_FLAG_AMSGRAD) ? v_max : NULL;
    const int inside = (k->flags & DSUPPORT_FLAG_EPS_INSIDE_SQRT) != 0, use_l2 = k->l2 != 0;
    if (!amsgrad && !inside && !use_l2) NAME(adam_loop)(k, p, g, m, v, NULL, 0, 0, begin, end);
    else if (!amsgrad && !inside) NAME(adam_loop)(k, p, g, m, v, NULL, 0, 1, begin, end);
    else if (!amsgrad) NAME(adam_loop)(k, p, g, m, v, NULL, 1, use_l2, begin, end);
    else if (!inside && !use_l2) NAME(adam_loop)(k, p, g, m, v, amsgrad, 0, 0, begin, end);
    else NAME(adam_loop)(k, p, g, m, v, amsgrad, inside, use_l2, begin, end);
}

// Adamax (PyTorch `torch.optim.Adamax`; C `descent_adamax_step`):
// m := β1 m + (1 - β1) g
// u := max(β2 u, |g| + ε)
// W := W - (lr / (1 - β1^t)) m / u         (lr m / u without bias correction)
static void NAME(adamax)(const dsupport_step_plan *k, T *restrict p, const T *restrict g, S *restrict m,
                         S *restrict u, int64_t begin, int64_t end) {
    SCALARS()
    const int use_l2 = k->l2 != 0;
    const T b1 = (T)k->beta1, c1 = (T)k->one_minus_beta1, b2 = (T)k->beta2, eps = (T)k->epsilon;
    const T step = (T)k->step_size;
    for (int64_t i = begin; i < end; i++) {
        PREPARE()
        const T first = b1 * LOAD(m, i) + c1 * gi;
        STORE(0, m, i, first);
        const T decayed = b2 * LOAD(u, i), magnitude = __builtin_elementwise_abs(gi) + eps;
        const T norm = magnitude >= decayed ? magnitude : decayed;  // Swift.max(decayed, magnitude), NaN included
        STORE(1, u, i, norm);
        p[i] = w * decay - step * first / norm;
    }
}

// NAdam (PyTorch `torch.optim.NAdam`, momentum_decay ψ = 4e-3; C `descent_nadam_step`):
// μ_t := β1 (1 - ½ · 0.96^(t ψ)),   μ_{t+1} := β1 (1 - ½ · 0.96^((t+1) ψ))
// Π_t := Π_{t-1} μ_t                  (mu_product, starts at 1)
// m := β1 m + (1 - β1) g;   v := β2 v + (1 - β2) g²
// d := sqrt(v / (1 - β2^t)) + ε
// W := W - lr (1 - μ_t) / (1 - Π_t) · g / d - lr μ_{t+1} / (1 - Π_t μ_{t+1}) · m / d
static void NAME(nadam)(const dsupport_step_plan *k, T *restrict p, const T *restrict g, S *restrict m,
                        S *restrict v, int64_t begin, int64_t end) {
    SCALARS()
    const int use_l2 = k->l2 != 0;
    const T b1 = (T)k->beta1, c1 = (T)k->one_minus_beta1, b2 = (T)k->beta2, c2 = (T)k->one_minus_beta2;
    const T gradient_step = (T)k->step_size, momentum_step = (T)k->extra, scale = (T)k->scale2;
    const T eps = (T)k->epsilon;
    for (int64_t i = begin; i < end; i++) {
        PREPARE()
        const T first = b1 * LOAD(m, i) + c1 * gi;
        const T second = b2 * LOAD(v, i) + c2 * gi * gi;
        STORE(0, m, i, first);
        STORE(1, v, i, second);
        const T denominator = SQRT(second * scale) + eps;
        p[i] = w * decay - gradient_step * gi / denominator - momentum_step * first / denominator;
    }
}

// RAdam (PyTorch `torch.optim.RAdam`; C `descent_radam_step`):
// m := β1 m + (1 - β1) g;   v := β2 v + (1 - β2) g²
// c1 := 1 - β1^t,  c2 := 1 - β2^t
// ρ∞ := 2 / (1 - β2) - 1,   ρ_t := ρ∞ - 2 t β2^t / c2
// ρ_t > 5:  r := sqrt((ρ_t - 4)(ρ_t - 2) ρ∞ / ((ρ∞ - 4)(ρ∞ - 2) ρ_t))
//           W := W - (lr r sqrt(c2) / c1) m / (sqrt(v) + ε)
// else:     W := W - (lr / c1) m
static void NAME(radam)(const dsupport_step_plan *k, T *restrict p, const T *restrict g, S *restrict m,
                        S *restrict v, int64_t begin, int64_t end) {
    SCALARS()
    const int use_l2 = k->l2 != 0, adaptive = k->extra != 0;
    const T b1 = (T)k->beta1, c1 = (T)k->one_minus_beta1, b2 = (T)k->beta2, c2 = (T)k->one_minus_beta2;
    const T step = (T)k->step_size, eps = (T)k->epsilon;
    for (int64_t i = begin; i < end; i++) {
        PREPARE()
        const T first = b1 * LOAD(m, i) + c1 * gi;
        const T second = b2 * LOAD(v, i) + c2 * gi * gi;
        STORE(0, m, i, first);
        STORE(1, v, i, second);
        const T direction = adaptive ? first / (SQRT(second) + eps) : first;
        p[i] = w * decay - step * direction;
    }
}

static void NAME(step_range)(const dsupport_step_plan *k, T *p, const T *g, S *s0, S *s1, S *s2,
                             int64_t begin, int64_t end) {
    switch (k->rule) {
    case DSUPPORT_RULE_SGD: NAME(sgd)(k, p, g, s0, begin, end); break;
    case DSUPPORT_RULE_ADAGRAD: if (s0) NAME(adagrad)(k, p, g, s0, begin, end); break;
    case DSUPPORT_RULE_ADADELTA: if (s0 && s1) NAME(adadelta)(k, p, g, s0, s1, begin, end); break;
    case DSUPPORT_RULE_RMSPROP: if (s0) NAME(rmsprop)(k, p, g, s0, s1, s2, begin, end); break;
    case DSUPPORT_RULE_ADAM:
    case DSUPPORT_RULE_ADAMW: if (s0 && s1) NAME(adam)(k, p, g, s0, s1, s2, begin, end); break;
    case DSUPPORT_RULE_ADAMAX: if (s0 && s1) NAME(adamax)(k, p, g, s0, s1, begin, end); break;
    case DSUPPORT_RULE_NADAM: if (s0 && s1) NAME(nadam)(k, p, g, s0, s1, begin, end); break;
    case DSUPPORT_RULE_RADAM: if (s0 && s1) NAME(radam)(k, p, g, s0, s1, begin, end); break;
    case DSUPPORT_RULE_LION: if (s0) NAME(lion)(k, p, g, s0, begin, end); break;
    default: break;
    }
}

// The update of [begin, end) in two calls: the few elements before the first whose parameter
// address is a multiple of 64 bytes, then the rest, so that the vector loop's loads and stores of
// the parameter (and of every buffer at the same offset, such as a gradient NumPy allocated the
// same way) never straddle two cache lines. Caller memory (NumPy's large arrays start 16 bytes
// past a 64-byte boundary) would otherwise split every 64-byte AVX-512 access, which cost that
// path 3-6% on a memory-bound step (Zen 4, 10M-element momentum, measured in isolation). Each
// element's arithmetic is the same whichever call updates it, so results do not change. Short
// ranges (under 4 KiB of parameter, which stay in the L1 cache) are not split: there the extra
// call and scalar head cost more than the split accesses (~10 ns per tensor of 100 elements).
static void NAME(step)(const dsupport_step_plan *k, T *p, const T *g, S *s0, S *s1, S *s2,
                       int64_t begin, int64_t end) {
    const int64_t head = begin + (int64_t)((-(uintptr_t)(p + begin) & 63) / sizeof(T));
    if (end - begin >= (int64_t)(4096 / sizeof(T)) && head > begin && head < end) {
        NAME(step_range)(k, p, g, s0, s1, s2, begin, head);
        begin = head;
    }
    NAME(step_range)(k, p, g, s0, s1, s2, begin, end);
}

#undef PREPARE
#undef SCALARS

#ifndef DSUPPORT_STATE_COMPACT
// NaN or ±infinity exactly when the exponent bits are all ones: adding one unit of the
// exponent's lowest bit to the masked exponent then carries into the sign bit. OR-ing those sums
// needs only and/add/or, so the scan vectorizes on every path and runs at memory speed.
// The range is read as SCAN_STREAMS equal parts side by side (then the few leftover elements):
// one sequential stream keeps too few cache-line requests in flight to reach the memory's speed.
// Measured in isolation on Zen 4 with 8 streams: a read-only pass over 40 MB ~10% faster, a scan
// followed by a 10M-element momentum update 3-5% faster. The result is an OR over all elements,
// so the order is free. A range under 2048 elements (in cache anyway) is read as one stream: split
// 8 ways, a tensor of 100 elements left each part shorter than one vector and the whole scan ran
// scalar.
#define SCAN_STREAMS 8
#if DSUPPORT_TYPE_BITS == 32
#define SCAN_FLAG(x) (((x) & 0x7F800000u) + 0x00800000u)
#define SCAN_SIGN 0x80000000u
#define SCAN_BITS uint32_t
#else
#define SCAN_FLAG(x) (((x) & 0x7FF0000000000000ull) + 0x0010000000000000ull)
#define SCAN_SIGN 0x8000000000000000ull
#define SCAN_BITS uint64_t
#endif
static int NAME(all_finite)(const T *values, int64_t begin, int64_t end) {
    const SCAN_BITS *bits = (const SCAN_BITS *)values;
    const int64_t part = end - begin >= 2048 ? (end - begin) / SCAN_STREAMS : 0;
    SCAN_BITS carry = 0;
    for (int64_t i = begin; i < begin + part; i++) {
        for (int stream = 0; stream < SCAN_STREAMS; stream++) carry |= SCAN_FLAG(bits[i + stream * part]);
    }
    for (int64_t i = begin + SCAN_STREAMS * part; i < end; i++) carry |= SCAN_FLAG(bits[i]);
    return (carry & SCAN_SIGN) == 0;
}
#undef SCAN_STREAMS
#undef SCAN_BITS
#undef SCAN_FLAG
#undef SCAN_SIGN

// ReLU for the graph's forward and backward passes, branch-free (a per-element branch
// mispredicts on random signs): out := x unless x <= 0 (NaN propagates, -0 becomes +0);
// dx := g where x > 0, else 0.
static void NAME(relu_forward)(const T *x, T *out, int64_t count) {  // out may be x
    for (int64_t i = 0; i < count; i++) out[i] = !(x[i] <= 0) ? x[i] : (T)0;
}

static void NAME(relu_backward)(const T *x, const T *g, T *dx, int64_t count) {  // dx may be g
    for (int64_t i = 0; i < count; i++) dx[i] = x[i] > 0 ? g[i] : (T)0;
}
#endif
