/* Every bit flip and every truncation of a checkpoint is detected: for three checkpoints the
 * library writes (Adam with AMSGrad and params, SGD with Nesterov momentum without params, NAdam
 * with its running product), every single-bit flip of the file and every proper prefix of it
 * (and one byte appended) must be rejected by descent_optimizer_load with DESCENT_ERR_CORRUPT,
 * leaving the optimizer exactly as it was (step count, policy, every hyper-parameter of every
 * group, mu products, every state slot, every param). The intact file must load.
 * Usage: stress_corrupt. DESCENT_STRESS_PLANT=1 also feeds the intact file as a "flip" (the
 * check must then fail). Exit 0 when every check held. */
#include "stress.h"

enum { MAX_FINGERPRINT = 1 << 16 };

struct subject {
    const char *name;
    int32_t rule;
    int include_params;
    descent_optimizer opt;
    descent_tensor params[2], grads[2];
};

/* Everything a load may replace, as bytes: step count, policy, every hyper-parameter and mu
 * product of every group, which state slots exist and their contents, every param's elements.
 * Returns the length, or -1 when a query failed (the optimizer must always answer them). */
static int fingerprint(descent_optimizer opt, descent_tensor *params, unsigned char *out) {
    int at = 0, ok = 1;
#define PUT(value) do { __typeof__(value) v_ = (value); memcpy(out + at, &v_, sizeof v_); at += (int)sizeof v_; } while (0)
    int32_t rule = 0, policy = 0;
    int64_t groups = 0, count = 0, steps = 0;
    ok &= descent_optimizer_counts(opt, &rule, &groups, &count) == DESCENT_OK;
    ok &= descent_optimizer_nonfinite_policy(opt, &policy) == DESCENT_OK;
    ok &= descent_optimizer_step_count(opt, &steps) == DESCENT_OK;
    PUT(steps);
    PUT(policy);
    for (int64_t g = 0; g < groups; g++) {
        for (int32_t key = 1; key <= 13; key++) {
            double value = 0;
            descent_status status = descent_optimizer_get_hyper(opt, g, key, &value);
            ok &= status == DESCENT_OK || status == DESCENT_ERR_INVALID_ARGUMENT;  /* a key the rule lacks */
            PUT(value);
        }
        double mu = 0;
        ok &= descent_optimizer_mu_product(opt, g, &mu) == DESCENT_OK;
        PUT(mu);
    }
    int slots = rule == DESCENT_RULE_SGD || rule == DESCENT_RULE_ADAGRAD || rule == DESCENT_RULE_LION ? 1
              : rule == DESCENT_RULE_RMSPROP || rule == DESCENT_RULE_ADAM || rule == DESCENT_RULE_ADAMW ? 3 : 2;
    for (int64_t p = 0; p < count; p++) {
        int64_t elements = 0;
        int32_t dtype = 0;
        ok &= descent_tensor_count(params[p], &elements) == DESCENT_OK;
        ok &= descent_tensor_dtype(params[p], &dtype) == DESCENT_OK;
        int size = dtype == DESCENT_DTYPE_FLOAT32 ? 4 : 8;
        for (int32_t slot = 0; slot < slots; slot++) {
            int32_t present = 0;
            ok &= descent_optimizer_state_present(opt, p, slot, &present) == DESCENT_OK;
            PUT(present);
            if (present == 1) {
                ok &= descent_optimizer_state_get(opt, p, slot, dtype, out + at, elements) == DESCENT_OK;
                at += (int)elements * size;
            }
        }
        ok &= descent_tensor_copy_to(params[p], dtype, out + at, elements) == DESCENT_OK;
        at += (int)elements * size;
    }
#undef PUT
    if (!ok) fprintf(stderr, "fingerprint: a query failed: %s\n", descent_last_error());
    return ok ? at : -1;
}

static void make(struct subject *s) {
    int64_t a_shape[2] = {3, 4}, b_shape[1] = {5};
    descent_tensor_random_normal(DESCENT_DTYPE_FLOAT32, 2, a_shape, 1, 0.0, 1.0, &s->params[0]);
    descent_tensor_random_normal(DESCENT_DTYPE_FLOAT64, 1, b_shape, 2, 0.0, 1.0, &s->params[1]);
    descent_tensor_random_normal(DESCENT_DTYPE_FLOAT32, 2, a_shape, 3, 0.0, 1.0, &s->grads[0]);
    descent_tensor_random_normal(DESCENT_DTYPE_FLOAT64, 1, b_shape, 4, 0.0, 1.0, &s->grads[1]);
    descent_optimizer_new(s->rule, &s->opt);
    descent_optimizer_add_group(s->opt, &s->params[0], 1, NULL);
    descent_optimizer_add_group(s->opt, &s->params[1], 1, NULL);
    if (s->rule == DESCENT_RULE_ADAM) descent_optimizer_set_hyper(s->opt, 1, DESCENT_HYPER_FLAGS, DESCENT_OPT_AMSGRAD);
    if (s->rule == DESCENT_RULE_SGD) {
        descent_optimizer_set_hyper(s->opt, 0, DESCENT_HYPER_MOMENTUM, 0.9);
        descent_optimizer_set_hyper(s->opt, 1, DESCENT_HYPER_MOMENTUM, 0.8);
        descent_optimizer_set_hyper(s->opt, 1, DESCENT_HYPER_FLAGS, DESCENT_OPT_NESTEROV);
    }
    descent_optimizer_set_grads(s->opt, s->grads, 2);
    for (int i = 0; i < 3; i++) descent_optimizer_step(s->opt, NULL);
}

static int write_file(const char *path, const unsigned char *bytes, size_t size) {
    unlink(path);  /* a new file each time: ext4 flushes a file truncated and rewritten on close */
    FILE *file = fopen(path, "wb");
    if (!file) return 0;
    size_t wrote = size ? fwrite(bytes, 1, size, file) : 0;
    return fclose(file) == 0 && wrote == size;
}

int main(void) {
    double started = stress_now();
    int plant = getenv("DESCENT_STRESS_PLANT") != NULL;
    stress_make_scratch("corrupt");
    char saved[400], path[400];
    snprintf(saved, sizeof saved, "%s/saved.ckpt", stress_scratch);
    snprintf(path, sizeof path, "%s/damaged.ckpt", stress_scratch);
    struct subject subjects[3] = {{"adam", DESCENT_RULE_ADAM, 1, 0, {0}, {0}},
                                  {"sgd", DESCENT_RULE_SGD, 0, 0, {0}, {0}},
                                  {"nadam", DESCENT_RULE_NADAM, 1, 0, {0}, {0}}};
    static unsigned char expected[MAX_FINGERPRINT], after[MAX_FINGERPRINT], saved_print[MAX_FINGERPRINT];
    long flips = 0, truncations = 0, undetected = 0, wrong_status = 0, changed = 0, failures = 0;
    long long bytes_total = 0;
    for (int s = 0; s < 3; s++) {
        struct subject *subject = &subjects[s];
        make(subject);
        if (descent_optimizer_save(subject->opt, saved, subject->include_params) != DESCENT_OK) {
            fprintf(stderr, "%s: save failed: %s\n", subject->name, descent_last_error());
            return 1;
        }
        int saved_length = fingerprint(subject->opt, subject->params, saved_print);
        /* The optimizer moves on, so a load that changed anything would show. */
        descent_optimizer_step(subject->opt, NULL);
        int length = fingerprint(subject->opt, subject->params, expected);
        if (length < 0 || saved_length < 0) return 1;
        FILE *file = fopen(saved, "rb");
        static unsigned char original[1 << 16], damaged[(1 << 16) + 1];
        size_t size = fread(original, 1, sizeof original, file);
        fclose(file);
        bytes_total += (long long)size;
        /* Cases: every bit flip, every truncation, one byte appended (and the planted intact copy). */
        long cases = (long)size * 8 + (long)size + 1 + (plant ? 1 : 0);
        for (long c = 0; c < cases; c++) {
            size_t damaged_size = size;
            memcpy(damaged, original, size);
            if (c < (long)size * 8) {
                damaged[c / 8] ^= (unsigned char)(1u << (c % 8));
                flips++;
            } else if (c < (long)size * 9) {
                damaged_size = (size_t)(c - (long)size * 8);
                truncations++;
            } else if (c == (long)size * 9) {
                damaged[size] = 0;
                damaged_size = size + 1;
                truncations++;  /* counted with the length changes */
            } else {
                flips++;  /* planted: the intact file, which loads */
            }
            if (!write_file(path, damaged, damaged_size)) return 2;
            descent_status status = descent_optimizer_load(subject->opt, path);
            if (status == DESCENT_OK) {
                if (undetected++ < 5) fprintf(stderr, "%s: case %ld was not detected\n", subject->name, c);
                /* put the optimizer back where it was for the next cases */
                descent_optimizer_load(subject->opt, saved);
                descent_optimizer_step(subject->opt, NULL);
                continue;
            }
            if (status != DESCENT_ERR_CORRUPT) {
                if (wrong_status++ < 5)
                    fprintf(stderr, "%s: case %ld: %s, not DESCENT_ERR_CORRUPT (%s)\n", subject->name, c,
                            descent_status_string(status), descent_last_error());
            }
            int now = fingerprint(subject->opt, subject->params, after);
            if (now != length || memcmp(after, expected, (size_t)length) != 0) {
                if (changed++ < 5) {
                    fprintf(stderr, "%s: case %ld changed the optimizer (%s)\n", subject->name, c, descent_last_error());
                }
                descent_optimizer_load(subject->opt, saved);
                descent_optimizer_step(subject->opt, NULL);
            }
        }
        /* The intact file loads, and gives back the saved state. */
        if (descent_optimizer_load(subject->opt, saved) != DESCENT_OK) {
            fprintf(stderr, "%s: the intact file does not load: %s\n", subject->name, descent_last_error());
            failures++;
        } else {
            int now = fingerprint(subject->opt, subject->params, after);
            /* Without params in the file (SGD here) the params stay as they are now. */
            if (subject->include_params && (now != saved_length || memcmp(after, saved_print, (size_t)now) != 0)) {
                fprintf(stderr, "%s: the intact file loads a different state\n", subject->name);
                failures++;
            }
        }
    }
    stress_remove_scratch();
    stress_figure("every bit flip and truncation of a checkpoint detected", started,
                  "3 checkpoints (%s bytes): %s bit flips and %s truncations/extensions, %ld undetected, "
                  "%ld not DESCENT_ERR_CORRUPT, %ld changed the optimizer",
                  stress_count(bytes_total), stress_count(flips), stress_count(truncations), undetected, wrong_status,
                  changed);
    return undetected == 0 && wrong_status == 0 && changed == 0 && failures == 0 ? 0 : 1;
}
