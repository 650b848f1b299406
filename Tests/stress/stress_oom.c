/* Exhaustion under an address-space limit, for every allocating entry point. For each entry, in
 * a child process: build its inputs, cap RLIMIT_AS a little above what is mapped, fill the rest
 * of the address space (mmap down to single pages), exhaust the malloc heap, then give back a
 * few pages (16 x 4 KiB) so the small bookkeeping of a call can still happen; call the entry
 * point with a request larger than what is left (tens of MiB) three times: each must return
 * DESCENT_ERR_OUT_OF_MEMORY, or succeed, never crash or hang, and a rejected call must leave its
 * object unchanged where that is observable. Then free the memory, lift the limit, and the same
 * call must succeed and the library must work (a tensor, a sum, an optimizer step).
 * Usage: stress_oom [entry-name]. DESCENT_STRESS_PLANT=1 adds an entry that allocates with an
 * unchecked allocation that aborts on failure, as a Swift array does (it must be caught as a
 * crash). Exit 0 when every entry held. */
#include "stress.h"  /* first: it defines _GNU_SOURCE */

#include <malloc.h>
#include <sys/mman.h>
#include <sys/resource.h>

#define BIG ((int64_t)1 << 23) /* float64 elements: 64 MiB */
#define HALF (BIG / 2)

/* ---- exhausting memory ---------------------------------------------------------------------- */

static void *fillers[8192];
static size_t filler_sizes[8192];
static int filler_count;
struct chunk {
    struct chunk *next;
};
static struct chunk *heap_chain;
static void *reserve[16];

__attribute__((noinline)) static void touch_stack(void) {
    volatile char page[1 << 20];  /* the stack a call may need, mapped now */
    for (size_t i = 0; i < sizeof page; i += 4096) page[i] = 1;
}

static int exhaust(void) {
    touch_stack();
    fprintf(stderr, "%s", "");
    for (int i = 0; i < 16; i++) reserve[i] = malloc(4096);
    long now = stress_virtual_size();
    struct rlimit limit;
    getrlimit(RLIMIT_AS, &limit);
    limit.rlim_cur = (rlim_t)now + (64 << 20);
    if (now <= 0 || setrlimit(RLIMIT_AS, &limit) != 0) return 0;
    for (size_t size = (size_t)1 << 40; size >= 4096; size /= 2) {
        for (;;) {
            void *block = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (block == MAP_FAILED || filler_count == 8192) break;
            fillers[filler_count] = block;
            filler_sizes[filler_count++] = size;
        }
    }
    for (size_t size = 65536; size >= 16; size /= 2) {
        for (;;) {
            struct chunk *chunk = malloc(size);
            if (!chunk) break;
            chunk->next = heap_chain;
            heap_chain = chunk;
        }
    }
    for (int i = 0; i < 16; i++) free(reserve[i]);  /* a few pages for bookkeeping */
    return 1;
}

static void release(void) {
    while (heap_chain) {
        struct chunk *next = heap_chain->next;
        free(heap_chain);
        heap_chain = next;
    }
    for (int i = 0; i < filler_count; i++) munmap(fillers[i], filler_sizes[i]);
    filler_count = 0;
    struct rlimit limit;
    getrlimit(RLIMIT_AS, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_AS, &limit);
}

/* ---- fixtures ------------------------------------------------------------------------------- */

static descent_tensor big_tensor, half_param, half_grad, small_x, small_g, big_input, big_batch_input;
static descent_optimizer opt;
static descent_graph graph;
static descent_trainer trainer;
static descent_loader loader;
static descent_schedule constant_schedule;
static double *caller_doubles;
static int64_t *caller_ints;
static descent_schedule *caller_handles;
static descent_tensor *caller_tensors;
static int64_t input_node, labels_node, loss_node, logits_node;
static char checkpoint[400], save_path[400];
static float w1[64 * 16], b1[64], w2[4 * 64], b2[4];

static int32_t quadratic(void *context, descent_tensor x, double *out) {
    (void)context;
    return descent_tensor_dot(x, x, out);
}

#define TRY(call) do { descent_status s_ = (call); if (s_ != DESCENT_OK) { fprintf(stderr, "setup: %s: %s\n", #call, descent_last_error()); exit(40); } } while (0)

static void big(void) {
    int64_t n = BIG;
    TRY(descent_tensor_full(DESCENT_DTYPE_FLOAT64, 1, &n, 1.5, &big_tensor));
}
static void half(void) {
    int64_t n = HALF;
    TRY(descent_tensor_full(DESCENT_DTYPE_FLOAT64, 1, &n, 1.0, &half_param));
    TRY(descent_tensor_full(DESCENT_DTYPE_FLOAT64, 1, &n, 0.5, &half_grad));
}
static void doubles(void) {
    caller_doubles = malloc((size_t)BIG * sizeof(double));
    for (int64_t i = 0; i < BIG; i++) caller_doubles[i] = 1.0 / (double)(i + 1);
}
static void ints(void) {
    caller_ints = malloc((size_t)BIG * sizeof(int64_t));
    for (int64_t i = 0; i < BIG; i++) caller_ints[i] = i + 1;
}
static void sgd_half(void) {
    half();
    TRY(descent_optimizer_new(DESCENT_RULE_SGD, &opt));
    TRY(descent_optimizer_add_group(opt, &half_param, 1, NULL));
}
static void adam_saved(void) {
    half();
    TRY(descent_optimizer_new(DESCENT_RULE_ADAM, &opt));
    TRY(descent_optimizer_add_group(opt, &half_param, 1, NULL));
    TRY(descent_optimizer_set_grads(opt, &half_grad, 1));
    TRY(descent_optimizer_step(opt, NULL));
    TRY(descent_optimizer_save(opt, checkpoint, 1));
    TRY(descent_optimizer_step(opt, NULL));
}
static void small_tensors(void) {
    int64_t n = 8;
    TRY(descent_tensor_full(DESCENT_DTYPE_FLOAT64, 1, &n, 0.5, &small_x));
    TRY(descent_tensor_full(DESCENT_DTYPE_FLOAT64, 1, &n, 1.0, &small_g));
}
static void handles(void) {
    TRY(descent_schedule_new_constant(0.1, &constant_schedule));
    caller_handles = malloc((size_t)(1 << 22) * sizeof *caller_handles);
    for (int i = 0; i < 1 << 22; i++) caller_handles[i] = constant_schedule;
    ints();
}
/* x (-1, 16) -> dense 64 ReLU -> dense 4 -> softmax cross-entropy, run once at batch 8; a loader
 * with 1<<18-sample batches over a 1<<18 x 16 input (16 MiB) for new-batch-size runs. */
static void model(void) {
    int64_t input_shape[2] = {-1, 16}, w1s[2] = {64, 16}, b1s[1] = {64}, w2s[2] = {4, 64}, b2s[1] = {4};
    int64_t rows = 1 << 18, big_shape[2] = {rows, 16}, small_shape[2] = {8, 16}, h, p[4];
    descent_tensor params[4];
    TRY(descent_tensor_wrap(DESCENT_DTYPE_FLOAT32, 2, w1s, w1, 64 * 16, &params[0]));
    TRY(descent_tensor_wrap(DESCENT_DTYPE_FLOAT32, 1, b1s, b1, 64, &params[1]));
    TRY(descent_tensor_wrap(DESCENT_DTYPE_FLOAT32, 2, w2s, w2, 4 * 64, &params[2]));
    TRY(descent_tensor_wrap(DESCENT_DTYPE_FLOAT32, 1, b2s, b2, 4, &params[3]));
    TRY(descent_graph_new(DESCENT_DTYPE_FLOAT32, &graph));
    TRY(descent_graph_input(graph, 2, input_shape, &input_node));
    TRY(descent_graph_labels(graph, &labels_node));
    for (int i = 0; i < 4; i++) {
        TRY(descent_graph_param(graph, params[i], 1, &p[i]));
        TRY(descent_graph_param_init(graph, p[i], i % 2 == 0 ? DESCENT_INIT_HE_NORMAL : DESCENT_PARAM_INIT_ZEROS, 1.0));
    }
    TRY(descent_graph_init_params(graph, 3));
    TRY(descent_graph_dense(graph, input_node, p[0], p[1], DESCENT_ACTIVATION_RELU, 0, &h));
    TRY(descent_graph_dense(graph, h, p[2], p[3], DESCENT_ACTIVATION_IDENTITY, 0, &logits_node));
    TRY(descent_graph_cost(graph, DESCENT_COST_SOFTMAX_CROSS_ENTROPY, logits_node, labels_node, DESCENT_REDUCTION_MEAN, 0,
                           &loss_node));
    TRY(descent_optimizer_new(DESCENT_RULE_ADAM, &opt));
    TRY(descent_optimizer_add_group(opt, params, 4, NULL));
    TRY(descent_trainer_new(graph, opt, loss_node, &trainer));
    TRY(descent_trainer_set_nodes(trainer, input_node, labels_node, logits_node));
    TRY(descent_tensor_random_normal(DESCENT_DTYPE_FLOAT32, 2, big_shape, 5, 0.0, 1.0, &big_batch_input));
    TRY(descent_tensor_random_normal(DESCENT_DTYPE_FLOAT32, 2, small_shape, 6, 0.0, 1.0, &big_input));
    caller_ints = malloc((size_t)rows * sizeof(int64_t));
    for (int64_t i = 0; i < rows; i++) caller_ints[i] = i % 4;
    TRY(descent_graph_set_input(graph, input_node, big_input));
    TRY(descent_graph_set_labels(graph, labels_node, caller_ints, 8));
    double loss;
    TRY(descent_graph_backward(graph, loss_node, &loss));
    TRY(descent_loader_new(big_batch_input, 0, caller_ints, rows, rows, 0, 0, &loader));
}

/* ---- the entry points ------------------------------------------------------------------------ */

struct entry {
    const char *name;
    void (*setup)(void);
    descent_status (*call)(void);
    int (*unchanged)(void); /* after a rejected call: 1 when the object is as it was */
};

static descent_tensor made;
#define CALL(name, ...) static descent_status call_##name(void) { __VA_ARGS__ }

CALL(tensor_zeros, int64_t n = BIG; return descent_tensor_zeros(DESCENT_DTYPE_FLOAT64, 1, &n, &made);)
CALL(tensor_ones, int64_t n = BIG; return descent_tensor_ones(DESCENT_DTYPE_FLOAT64, 1, &n, &made);)
CALL(tensor_full, int64_t n = BIG; return descent_tensor_full(DESCENT_DTYPE_FLOAT64, 1, &n, 2.0, &made);)
CALL(tensor_arange, return descent_tensor_arange(DESCENT_DTYPE_FLOAT64, 0, (double)BIG, 1.0, &made);)
CALL(tensor_linspace, return descent_tensor_linspace(DESCENT_DTYPE_FLOAT64, 0, 1, BIG, 1, &made);)
CALL(tensor_from_buffer, int64_t n = BIG; return descent_tensor_from_buffer(DESCENT_DTYPE_FLOAT64, 1, &n, caller_doubles, BIG, &made);)
CALL(tensor_wrap, int64_t n = BIG; return descent_tensor_wrap(DESCENT_DTYPE_FLOAT64, 1, &n, caller_doubles, BIG, &made);)
CALL(tensor_random_uniform, int64_t n = BIG; return descent_tensor_random_uniform(DESCENT_DTYPE_FLOAT64, 1, &n, 1, 0, 1, &made);)
CALL(tensor_random_normal, int64_t n = BIG; return descent_tensor_random_normal(DESCENT_DTYPE_FLOAT64, 1, &n, 1, 0, 1, &made);)
CALL(tensor_clone, return descent_tensor_clone(big_tensor, &made);)
CALL(optimizer_new, descent_optimizer o; return descent_optimizer_new(DESCENT_RULE_ADAM, &o);)
CALL(optimizer_add_group,
     descent_optimizer o = opt; if (!o) { descent_status s = descent_optimizer_new(DESCENT_RULE_ADAM, &opt); if (s) return s; }
     return descent_optimizer_add_group(opt, &half_param, 1, NULL);)
CALL(optimizer_set_hyper, return descent_optimizer_set_hyper(opt, 0, DESCENT_HYPER_MOMENTUM, 0.9);)
CALL(optimizer_state_set, return descent_optimizer_state_set(opt, 0, 0, DESCENT_DTYPE_FLOAT64, caller_doubles, HALF);)
CALL(optimizer_set_grads, return descent_optimizer_set_grads(opt, &half_grad, 1);)
CALL(optimizer_step, return descent_optimizer_step(opt, NULL);)
CALL(optimizer_load, return descent_optimizer_load(opt, checkpoint);)
CALL(optimizer_save, return descent_optimizer_save(opt, save_path, 1);)
CALL(optimizer_reset, return descent_optimizer_reset(opt);)
static descent_schedule schedule;
CALL(schedule_new_constant, return descent_schedule_new_constant(0.1, &schedule);)
CALL(schedule_new_inverse_time, return descent_schedule_new_inverse_time(0.1, 0.5, &schedule);)
CALL(schedule_new_exponential, return descent_schedule_new_exponential(0.1, 0.9, &schedule);)
CALL(schedule_new_inverse_power, return descent_schedule_new_inverse_power(0.1, 1.0, 0.5, 1.0, &schedule);)
CALL(schedule_new_step, return descent_schedule_new_step(0.1, 10, 0.5, &schedule);)
CALL(schedule_new_multi_step, return descent_schedule_new_multi_step(0.1, caller_ints, BIG, 0.5, &schedule);)
CALL(schedule_new_piecewise_constant, return descent_schedule_new_piecewise_constant(caller_ints, BIG - 1, caller_doubles, &schedule);)
CALL(schedule_new_cosine, return descent_schedule_new_cosine(0.1, 100, 0.0, &schedule);)
CALL(schedule_new_cosine_warm_restarts, return descent_schedule_new_cosine_warm_restarts(0.1, 10, 2, 0.0, &schedule);)
CALL(schedule_new_linear, return descent_schedule_new_linear(0.1, 0.1, 1.0, 100, &schedule);)
CALL(schedule_new_polynomial, return descent_schedule_new_polynomial(0.1, 100, 1.0, 0.0, &schedule);)
CALL(schedule_new_one_cycle, return descent_schedule_new_one_cycle(0.1, 100, 0.3, 0, 25.0, 1e4, 0, &schedule);)
CALL(schedule_new_one_cycle_momentum, return descent_schedule_new_one_cycle_momentum(0.1, 100, 0.3, 0, 25.0, 1e4, 0, 0.85, 0.95, &schedule);)
CALL(schedule_new_sequential, return descent_schedule_new_sequential(caller_handles, 1 << 22, caller_ints, &schedule);)
CALL(plateau_new, descent_plateau p; return descent_plateau_new(0.1, 0, 0.5, 2, 1e-4, 0, 1, 0.0, 1e-8, &p);)
CALL(step_size_sweep, double rates[2] = {1e-3, 1e-2}, losses[2]; return descent_step_size_sweep(quadratic, NULL, half_param, half_grad, rates, 2, losses);)
CALL(gradient_check,
     double e, a, n; int64_t w; return descent_gradient_check(quadratic, NULL, half_param, half_grad, 1e-6, 1, 1e-10, 2, 9, &e, &w, &a, &n);)
CALL(numerical_gradient, return descent_numerical_gradient(quadratic, NULL, small_x, 1e-6, 1, small_g);)
CALL(graph_new, descent_graph g; return descent_graph_new(DESCENT_DTYPE_FLOAT64, &g);)
CALL(graph_constant, int64_t node; return descent_graph_constant(graph, big_batch_input, &node);)
CALL(schedule_values, double value; (void)value; return descent_schedule_values(constant_schedule, 0, BIG, caller_doubles);)
CALL(clip_grad_value, return descent_clip_grad_value(caller_tensors, 1 << 18, 1.0);)
CALL(clip_grad_norm, double norm; return descent_clip_grad_norm(caller_tensors, 1 << 18, 1.0, &norm);)
CALL(graph_set_input_new_batch, return descent_graph_set_input(graph, input_node, big_batch_input);)
CALL(graph_set_labels_new_batch, return descent_graph_set_labels(graph, labels_node, caller_ints, 1 << 18);)
CALL(graph_forward_new_batch,
     descent_status s = descent_graph_set_input(graph, input_node, big_batch_input); if (s) return s;
     return descent_graph_forward(graph, logits_node, DESCENT_DTYPE_FLOAT32, NULL, 0, NULL);)
CALL(graph_backward_new_batch,
     descent_status s = descent_graph_set_input(graph, input_node, big_batch_input); if (s) return s;
     s = descent_graph_set_labels(graph, labels_node, caller_ints, 1 << 18); if (s) return s;
     double loss; return descent_graph_backward(graph, loss_node, &loss);)
CALL(loader_new, descent_loader l; return descent_loader_new(big_batch_input, 0, caller_ints, 1 << 18, 32, DESCENT_LOADER_SHUFFLE, 1, &l);)
CALL(trainer_new, descent_trainer t; return descent_trainer_new(graph, opt, loss_node, &t);)
CALL(trainer_step_batch_new_batch, double loss; return descent_trainer_step_batch(trainer, loader, 0, &loss, NULL, NULL);)
CALL(trainer_evaluate_new_batch, double loss, accuracy; return descent_trainer_evaluate(trainer, loader, &loss, &accuracy);)
CALL(trainer_fit_new_batch,
     double history[6]; int64_t summary[4];
     return descent_trainer_fit(trainer, loader, 0, 1, 0, 0.0, 0, NULL, NULL, NULL, history, 1, NULL, 0, summary);)
CALL(trainer_restarts, double results[8]; int64_t best; return descent_trainer_restarts(trainer, 2, 1, loader, 0, 1, 0, 0.0, results, NULL, &best);)
CALL(trainer_range_test,
     double rates[4], losses[4], smoothed[4], suggested; int64_t points;
     return descent_trainer_range_test(trainer, loader, 1e-4, 1e-1, 4, 0.9, 4.0, rates, losses, smoothed, &points, &suggested);)
/* Planted: an allocation that aborts when it fails, as a Swift array's does. */
CALL(planted_unchecked_allocation, void *p = malloc((size_t)BIG * 8); if (!p) abort(); free(p); return DESCENT_OK;)

static int64_t group_count(void) {
    int32_t rule;
    int64_t groups = -1, params;
    descent_optimizer_counts(opt, &rule, &groups, &params);
    return groups;
}
static int groups_unchanged_zero(void) { return group_count() == 0; }
static int momentum_unchanged(void) {
    double value = -1;
    descent_optimizer_get_hyper(opt, 0, DESCENT_HYPER_MOMENTUM, &value);
    return value == 0.0;
}
static int slot_absent(void) {
    int32_t present = -1;
    descent_optimizer_state_present(opt, 0, 0, &present);
    return present == 0;
}
static int steps_unchanged(void) {
    int64_t steps = -1;
    descent_optimizer_step_count(opt, &steps);
    return steps == 2;
}
static int no_saved_file(void) {
    return stress_count_files("saved.ckpt") == 0;
}

static void none(void) {}
static void schedule_and_doubles(void) { doubles(); TRY(descent_schedule_new_constant(0.1, &constant_schedule)); }
static void tensor_list(void) {
    int64_t one = 1;
    caller_tensors = malloc((size_t)(1 << 18) * sizeof *caller_tensors);
    for (int i = 0; i < 1 << 18; i++) TRY(descent_tensor_full(DESCENT_DTYPE_FLOAT32, 1, &one, 2.0, &caller_tensors[i]));
}
static void adam_empty(void) { half(); TRY(descent_optimizer_new(DESCENT_RULE_ADAM, &opt)); }
static void doubles_sgd(void) { doubles(); sgd_half(); }
static void doubles_ints(void) { doubles(); ints(); }
static void half_small(void) { half(); small_tensors(); }

static const struct entry entries[] = {
    {"descent_tensor_zeros", none, call_tensor_zeros, NULL},
    {"descent_tensor_ones", none, call_tensor_ones, NULL},
    {"descent_tensor_full", none, call_tensor_full, NULL},
    {"descent_tensor_arange", none, call_tensor_arange, NULL},
    {"descent_tensor_linspace", none, call_tensor_linspace, NULL},
    {"descent_tensor_from_buffer", doubles, call_tensor_from_buffer, NULL},
    {"descent_tensor_wrap", doubles, call_tensor_wrap, NULL},
    {"descent_tensor_random_uniform", none, call_tensor_random_uniform, NULL},
    {"descent_tensor_random_normal", none, call_tensor_random_normal, NULL},
    {"descent_tensor_clone", big, call_tensor_clone, NULL},
    {"descent_optimizer_new", none, call_optimizer_new, NULL},
    {"descent_optimizer_add_group", adam_empty, call_optimizer_add_group, groups_unchanged_zero},
    {"descent_optimizer_set_hyper (allocates momentum)", sgd_half, call_optimizer_set_hyper, momentum_unchanged},
    {"descent_optimizer_state_set (allocates the slot)", doubles_sgd, call_optimizer_state_set, slot_absent},
    {"descent_optimizer_set_grads", sgd_half, call_optimizer_set_grads, NULL},
    {"descent_optimizer_step", adam_saved, call_optimizer_step, NULL},
    {"descent_optimizer_load", adam_saved, call_optimizer_load, steps_unchanged},
    {"descent_optimizer_save", adam_saved, call_optimizer_save, no_saved_file},
    {"descent_optimizer_reset", adam_saved, call_optimizer_reset, NULL},
    {"descent_schedule_new_constant", none, call_schedule_new_constant, NULL},
    {"descent_schedule_new_inverse_time", none, call_schedule_new_inverse_time, NULL},
    {"descent_schedule_new_exponential", none, call_schedule_new_exponential, NULL},
    {"descent_schedule_new_inverse_power", none, call_schedule_new_inverse_power, NULL},
    {"descent_schedule_new_step", none, call_schedule_new_step, NULL},
    {"descent_schedule_new_multi_step (8M milestones)", ints, call_schedule_new_multi_step, NULL},
    {"descent_schedule_new_piecewise_constant (8M pieces)", doubles_ints, call_schedule_new_piecewise_constant, NULL},
    {"descent_schedule_new_cosine", none, call_schedule_new_cosine, NULL},
    {"descent_schedule_new_cosine_warm_restarts", none, call_schedule_new_cosine_warm_restarts, NULL},
    {"descent_schedule_new_linear", none, call_schedule_new_linear, NULL},
    {"descent_schedule_new_polynomial", none, call_schedule_new_polynomial, NULL},
    {"descent_schedule_new_one_cycle", none, call_schedule_new_one_cycle, NULL},
    {"descent_schedule_new_one_cycle_momentum", none, call_schedule_new_one_cycle_momentum, NULL},
    {"descent_schedule_new_sequential (4M parts)", handles, call_schedule_new_sequential, NULL},
    {"descent_schedule_values (8M steps)", schedule_and_doubles, call_schedule_values, NULL},
    {"descent_plateau_new", none, call_plateau_new, NULL},
    {"descent_clip_grad_value (256K tensors)", tensor_list, call_clip_grad_value, NULL},
    {"descent_clip_grad_norm (256K tensors)", tensor_list, call_clip_grad_norm, NULL},
    {"descent_step_size_sweep", half, call_step_size_sweep, NULL},
    {"descent_gradient_check", half, call_gradient_check, NULL},
    {"descent_numerical_gradient", half_small, call_numerical_gradient, NULL},
    {"descent_graph_new", none, call_graph_new, NULL},
    {"descent_graph_constant", model, call_graph_constant, NULL},
    {"descent_graph_set_input (new batch size)", model, call_graph_set_input_new_batch, NULL},
    {"descent_graph_set_labels (new batch size)", model, call_graph_set_labels_new_batch, NULL},
    {"descent_graph_forward (new batch size)", model, call_graph_forward_new_batch, NULL},
    {"descent_graph_backward (new batch size)", model, call_graph_backward_new_batch, NULL},
    {"descent_loader_new", model, call_loader_new, NULL},
    {"descent_trainer_new", model, call_trainer_new, NULL},
    {"descent_trainer_step_batch (new batch size)", model, call_trainer_step_batch_new_batch, NULL},
    {"descent_trainer_evaluate (new batch size)", model, call_trainer_evaluate_new_batch, NULL},
    {"descent_trainer_fit (new batch size)", model, call_trainer_fit_new_batch, NULL},
    {"descent_trainer_restarts", model, call_trainer_restarts, NULL},
    {"descent_trainer_range_test", model, call_trainer_range_test, NULL},
};
static const struct entry planted = {"planted: an unchecked allocation", none, call_planted_unchecked_allocation, NULL};

/* Child exit codes. */
enum { HELD_OOM = 0, HELD_OK = 1, WRONG_STATUS = 10, NO_MESSAGE = 11, CHANGED = 12, UNUSABLE = 13, NO_LIMIT = 14 };

static const struct entry *current;

static int smoke(void) {
    int64_t n = 1000;
    descent_tensor a = 0, g = 0;
    descent_optimizer o = 0;
    double sum = 0;
    int ok = descent_tensor_full(DESCENT_DTYPE_FLOAT64, 1, &n, 2.0, &a) == DESCENT_OK &&
             descent_tensor_full(DESCENT_DTYPE_FLOAT64, 1, &n, 1.0, &g) == DESCENT_OK &&
             descent_tensor_sum(a, &sum) == DESCENT_OK && sum == 2000.0 &&
             descent_optimizer_new(DESCENT_RULE_SGD, &o) == DESCENT_OK &&
             descent_optimizer_add_group(o, &a, 1, NULL) == DESCENT_OK &&
             descent_optimizer_set_grads(o, &g, 1) == DESCENT_OK && descent_optimizer_step(o, NULL) == DESCENT_OK;
    descent_optimizer_free(o);
    descent_tensor_free(a);
    descent_tensor_free(g);
    return ok;
}

static int child(void *unused) {
    (void)unused;
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    current->setup();
    if (!exhaust()) return NO_LIMIT;
    int saw_oom = 0;
    for (int round = 0; round < 3; round++) {
        descent_status status = current->call();
        if (status == DESCENT_ERR_OUT_OF_MEMORY) {
            saw_oom = 1;
            if (descent_last_error()[0] == 0) { release(); return NO_MESSAGE; }
            if (current->unchanged && !current->unchanged()) { release(); return CHANGED; }
        } else if (status != DESCENT_OK) {
            release();
            fprintf(stderr, "%s: %s (%s)\n", current->name, descent_status_string(status), descent_last_error());
            return WRONG_STATUS;
        }
    }
    release();
    descent_status again = current->call();
    if (again != DESCENT_OK || !smoke()) {
        fprintf(stderr, "%s after memory came back: %s (%s)\n", current->name, descent_status_string(again), descent_last_error());
        return UNUSABLE;
    }
    return saw_oom ? HELD_OOM : HELD_OK;
}

int main(int argc, char **argv) {
    double started = stress_now();
    stress_make_scratch("oom");
    snprintf(checkpoint, sizeof checkpoint, "%s/adam.ckpt", stress_scratch);
    snprintf(save_path, sizeof save_path, "%s/saved.ckpt", stress_scratch);
    int count = (int)(sizeof entries / sizeof entries[0]);
    int total = 0, oom = 0, succeeded = 0, crashed = 0, hung = 0, misbehaved = 0;
    for (int i = 0; i <= count; i++) {
        if (i == count && !getenv("DESCENT_STRESS_PLANT")) break;
        current = i == count ? &planted : &entries[i];
        if (argc > 1 && !strstr(current->name, argv[1])) continue;
        total++;
        unlink(save_path);
        int signal_number = 0;
        int status = stress_in_child(child, NULL, 120, &signal_number);
        const char *verdict = "?";
        switch (status) {
        case HELD_OOM: oom++; verdict = "DESCENT_ERR_OUT_OF_MEMORY, then works"; break;
        case HELD_OK: succeeded++; verdict = "succeeded within the few pages left, then works"; break;
        case STRESS_CHILD_SIGNALED: crashed++; verdict = "CRASHED"; break;
        case STRESS_CHILD_HUNG: hung++; verdict = "HUNG"; break;
        case WRONG_STATUS: misbehaved++; verdict = "another error than out-of-memory"; break;
        case NO_MESSAGE: misbehaved++; verdict = "no last-error text"; break;
        case CHANGED: misbehaved++; verdict = "the rejected call changed its object"; break;
        case UNUSABLE: misbehaved++; verdict = "the library did not work afterwards"; break;
        default: misbehaved++; verdict = "child failed"; break;
        }
        if (status == STRESS_CHILD_SIGNALED) fprintf(stderr, "%s: signal %d\n", current->name, signal_number);
        printf("  %-52s %s\n", current->name, verdict);
    }
    stress_remove_scratch();
    stress_figure("exhaustion under an address-space limit", started,
                  "%d allocating entry points, each in a child with the address space full: %d returned "
                  "DESCENT_ERR_OUT_OF_MEMORY, %d fit in the pages left, %d crashed, %d hung, %d misbehaved; "
                  "the library worked afterwards in every child that held",
                  total, oom, succeeded, crashed, hung, misbehaved);
    return crashed == 0 && hung == 0 && misbehaved == 0 && total > 0 ? 0 : 1;
}
