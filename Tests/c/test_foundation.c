/* C-side tests of the foundation ABI: versions, status codes, tensor lifecycle, zero-copy wraps,
 * kernels against plain C loops, the gradient-descent example, and abuse (NULL pointers, freed,
 * stale and made-up handles, bad shapes) returning errors without touching any object. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include "check.h"

static const int64_t shape23[2] = {2, 3};

static descent_tensor from_doubles(const double *values, int64_t rank, const int64_t *shape, int64_t count) {
    descent_tensor t = 0;
    CHECK_OK(descent_tensor_from_buffer(DESCENT_DTYPE_FLOAT64, rank, shape, values, count, &t));
    return t;
}

static void test_versions_and_status(void) {
    CHECK(descent_abi_version() == DESCENT_ABI_VERSION);
    CHECK(strcmp(descent_status_string(DESCENT_OK), "DESCENT_OK") == 0);
    CHECK(strcmp(descent_status_string(DESCENT_ERR_SHAPE), "DESCENT_ERR_SHAPE") == 0);
    CHECK(strcmp(descent_status_string(DESCENT_ERR_UNSUPPORTED), "DESCENT_ERR_UNSUPPORTED") == 0);
    CHECK(strcmp(descent_status_string(-7), "DESCENT_ERR_UNKNOWN") == 0);
    CHECK(strcmp(descent_status_string(9999), "DESCENT_ERR_UNKNOWN") == 0);
}

static void test_create_and_query(void) {
    descent_tensor t = 0;
    CHECK_OK(descent_tensor_full(DESCENT_DTYPE_FLOAT32, 2, shape23, 2.5, &t));
    int32_t dtype = 0;
    int64_t rank = 0, count = 0, dims[8] = {0};
    CHECK_OK(descent_tensor_dtype(t, &dtype));
    CHECK(dtype == DESCENT_DTYPE_FLOAT32);
    CHECK_OK(descent_tensor_rank(t, &rank));
    CHECK(rank == 2);
    CHECK_OK(descent_tensor_count(t, &count));
    CHECK(count == 6);
    CHECK_OK(descent_tensor_shape(t, dims, 8));
    CHECK(dims[0] == 2 && dims[1] == 3);
    CHECK_STATUS(descent_tensor_shape(t, dims, 1), DESCENT_ERR_BUFFER_TOO_SMALL);
    float values[6] = {0};
    CHECK_OK(descent_tensor_copy_to(t, DESCENT_DTYPE_FLOAT32, values, 6));
    int all = 1;
    for (int i = 0; i < 6; i++) all &= values[i] == 2.5f;
    CHECK(all);
    /* copy-out with the wrong dtype or too small a buffer fails and writes nothing */
    values[0] = -1.0f;
    CHECK_STATUS(descent_tensor_copy_to(t, DESCENT_DTYPE_FLOAT64, values, 6), DESCENT_ERR_DTYPE);
    CHECK_STATUS(descent_tensor_copy_to(t, DESCENT_DTYPE_FLOAT32, values, 5), DESCENT_ERR_BUFFER_TOO_SMALL);
    CHECK(values[0] == -1.0f);
    CHECK_OK(descent_tensor_free(t));

    /* rank 0 with a NULL shape is a scalar */
    CHECK_OK(descent_tensor_ones(DESCENT_DTYPE_FLOAT64, 0, NULL, &t));
    CHECK_OK(descent_tensor_count(t, &count));
    CHECK(count == 1);
    CHECK_OK(descent_tensor_shape(t, NULL, 0));
    CHECK_OK(descent_tensor_free(t));

    /* arange and linspace */
    double buffer[8];
    CHECK_OK(descent_tensor_arange(DESCENT_DTYPE_FLOAT64, 1.0, 3.0, 0.5, &t));
    CHECK_OK(descent_tensor_count(t, &count));
    CHECK(count == 4);
    CHECK_OK(descent_tensor_copy_to(t, DESCENT_DTYPE_FLOAT64, buffer, 8));
    CHECK(buffer[0] == 1.0 && buffer[1] == 1.5 && buffer[3] == 2.5);
    CHECK_OK(descent_tensor_free(t));
    CHECK_OK(descent_tensor_linspace(DESCENT_DTYPE_FLOAT64, 0.0, 1.0, 5, 1, &t));
    CHECK_OK(descent_tensor_copy_to(t, DESCENT_DTYPE_FLOAT64, buffer, 8));
    CHECK(buffer[0] == 0.0 && buffer[1] == 0.25 && buffer[4] == 1.0);
    CHECK_OK(descent_tensor_free(t));
}

static void test_wrap_is_zero_copy(void) {
    double memory[6] = {1, 2, 3, 4, 5, 6};
    double gradient_values[6] = {1, 1, 1, 1, 1, 1};
    descent_tensor w = 0;
    CHECK_OK(descent_tensor_wrap(DESCENT_DTYPE_FLOAT64, 2, shape23, memory, 6, &w));
    descent_tensor g = from_doubles(gradient_values, 2, shape23, 6);
    CHECK_OK(descent_gd_step(w, g, 0.5));
    CHECK(memory[0] == 0.5 && memory[5] == 5.5);
    CHECK_STATUS(descent_tensor_wrap(DESCENT_DTYPE_FLOAT64, 2, shape23, memory, 5, &w), DESCENT_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(descent_tensor_wrap(DESCENT_DTYPE_FLOAT64, 2, shape23, (char *)memory + 1, 6, &w),
                 DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_OK(descent_tensor_free(w));
    CHECK_OK(descent_tensor_free(g));
    CHECK(memory[0] == 0.5); /* freeing a wrap leaves the caller's memory alone */
}

static void test_kernels_against_loops(void) {
    double a_values[6] = {1, -2, 3, -4, 5, -6};
    double b_values[6] = {0.5, 0.25, -1, 2, 3, -0.5};
    descent_tensor a = from_doubles(a_values, 2, shape23, 6);
    descent_tensor b = from_doubles(b_values, 2, shape23, 6);
    descent_tensor out = 0;
    CHECK_OK(descent_tensor_zeros(DESCENT_DTYPE_FLOAT64, 2, shape23, &out));
    double result[6];
    int ok = 1;
    CHECK_OK(descent_tensor_mul(a, b, out));
    CHECK_OK(descent_tensor_copy_to(out, DESCENT_DTYPE_FLOAT64, result, 6));
    for (int i = 0; i < 6; i++) ok &= result[i] == a_values[i] * b_values[i];
    CHECK(ok);
    CHECK_OK(descent_tensor_sub(a, b, out));
    CHECK_OK(descent_tensor_copy_to(out, DESCENT_DTYPE_FLOAT64, result, 6));
    for (int i = 0; i < 6; i++) ok &= result[i] == a_values[i] - b_values[i];
    CHECK(ok);
    double dot = 0, expected_dot = 0, sum = 0, norm = 0, max_abs = 0, mean = 0;
    for (int i = 0; i < 6; i++) expected_dot += a_values[i] * b_values[i];
    CHECK_OK(descent_tensor_dot(a, b, &dot));
    CHECK(fabs(dot - expected_dot) < 1e-12);
    CHECK_OK(descent_tensor_sum(a, &sum));
    CHECK(sum == -3.0);
    CHECK_OK(descent_tensor_mean(a, &mean));
    CHECK(mean == -0.5);
    CHECK_OK(descent_tensor_norm_l2(a, &norm));
    CHECK(fabs(norm - sqrt(91.0)) < 1e-12);
    CHECK_OK(descent_tensor_max_abs(a, &max_abs));
    CHECK(max_abs == 6.0);

    /* matmul: a (2x3) times b^T (3x2) = 2x2, against a triple loop */
    int64_t shape22[2] = {2, 2};
    descent_tensor c = 0;
    CHECK_OK(descent_tensor_zeros(DESCENT_DTYPE_FLOAT64, 2, shape22, &c));
    CHECK_OK(descent_tensor_matmul(a, b, 0, 1, 1.0, 0.0, c));
    double product[4];
    CHECK_OK(descent_tensor_copy_to(c, DESCENT_DTYPE_FLOAT64, product, 4));
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            double expected = 0;
            for (int k = 0; k < 3; k++) expected += a_values[i * 3 + k] * b_values[j * 3 + k];
            ok &= fabs(product[i * 2 + j] - expected) < 1e-12;
        }
    CHECK(ok);
    /* shape mismatch: c unchanged */
    CHECK_STATUS(descent_tensor_matmul(a, b, 0, 0, 1.0, 0.0, c), DESCENT_ERR_SHAPE);
    CHECK_STATUS(descent_tensor_matmul(a, b, 0, 1, 1.0, 0.0, a), DESCENT_ERR_INVALID_ARGUMENT);
    double after[4];
    CHECK_OK(descent_tensor_copy_to(c, DESCENT_DTYPE_FLOAT64, after, 4));
    CHECK(memcmp(after, product, sizeof after) == 0);

    /* elementwise shape mismatch: out unchanged */
    CHECK_STATUS(descent_tensor_add(a, c, out), DESCENT_ERR_SHAPE);
    CHECK_OK(descent_tensor_copy_to(out, DESCENT_DTYPE_FLOAT64, result, 6));
    for (int i = 0; i < 6; i++) ok &= result[i] == a_values[i] - b_values[i];
    CHECK(ok);
    descent_tensor f32 = 0;
    CHECK_OK(descent_tensor_zeros(DESCENT_DTYPE_FLOAT32, 2, shape23, &f32));
    CHECK_STATUS(descent_tensor_axpy(1.0, f32, a), DESCENT_ERR_DTYPE);
    CHECK_OK(descent_tensor_free(f32));
    CHECK_OK(descent_tensor_free(a));
    CHECK_OK(descent_tensor_free(b));
    CHECK_OK(descent_tensor_free(c));
    CHECK_OK(descent_tensor_free(out));
}

static void test_textbook_example(void) {
    int64_t one[1] = {1};
    double w = 10.0, g = 0.0;
    descent_tensor weight = from_doubles(&w, 1, one, 1);
    descent_tensor gradient = from_doubles(&g, 1, one, 1);
    double expected = 10.0;
    int exact = 1;
    for (int step = 0; step < 100; step++) {
        CHECK_OK(descent_tensor_copy_to(weight, DESCENT_DTYPE_FLOAT64, &w, 1));
        g = 0.2 * (w - 5.0);
        if (step == 0) CHECK(g == 1.0); /* the textbook's gradient at W = 10 */
        CHECK_OK(descent_tensor_copy_from(gradient, DESCENT_DTYPE_FLOAT64, &g, 1));
        CHECK_OK(descent_gd_step(weight, gradient, 1.0));
        expected = expected - 1.0 * (0.2 * (expected - 5.0));
        CHECK_OK(descent_tensor_copy_to(weight, DESCENT_DTYPE_FLOAT64, &w, 1));
        exact &= w == expected;
    }
    CHECK(exact);
    CHECK(fabs(w - 5.0) < 1e-8);
    CHECK_STATUS(descent_gd_step(weight, gradient, -1.0), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_gd_step(weight, gradient, NAN), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_gd_step(weight, weight, 0.1), DESCENT_ERR_INVALID_ARGUMENT);
    double unchanged = 0;
    CHECK_OK(descent_tensor_copy_to(weight, DESCENT_DTYPE_FLOAT64, &unchanged, 1));
    CHECK(unchanged == w);
    CHECK_OK(descent_tensor_free(weight));
    CHECK_OK(descent_tensor_free(gradient));
}

static void test_abuse(void) {
    descent_tensor t = 0, sentinel = 12345;
    int64_t bad_shape[2] = {2, -3};
    int64_t huge_shape[3] = {INT64_MAX / 2, 4, 4};
    CHECK_STATUS(descent_tensor_zeros(DESCENT_DTYPE_FLOAT64, 2, shape23, NULL), DESCENT_ERR_NULL_POINTER);
    CHECK_STATUS(descent_tensor_zeros(DESCENT_DTYPE_FLOAT64, 2, NULL, &sentinel), DESCENT_ERR_NULL_POINTER);
    CHECK_STATUS(descent_tensor_zeros(DESCENT_DTYPE_FLOAT64, 2, bad_shape, &sentinel), DESCENT_ERR_SHAPE);
    CHECK_STATUS(descent_tensor_zeros(DESCENT_DTYPE_FLOAT64, 9, shape23, &sentinel), DESCENT_ERR_SHAPE);
    CHECK_STATUS(descent_tensor_zeros(DESCENT_DTYPE_FLOAT64, -1, shape23, &sentinel), DESCENT_ERR_SHAPE);
    CHECK_STATUS(descent_tensor_zeros(DESCENT_DTYPE_FLOAT64, 3, huge_shape, &sentinel), DESCENT_ERR_SHAPE);
    CHECK_STATUS(descent_tensor_zeros(7, 2, shape23, &sentinel), DESCENT_ERR_DTYPE);
    CHECK(sentinel == 12345); /* out is not written on failure */
    CHECK(strstr(descent_last_error(), "descent_tensor_zeros") != NULL);
    double values[6] = {0};
    CHECK_STATUS(descent_tensor_from_buffer(DESCENT_DTYPE_FLOAT64, 2, shape23, values, 5, &sentinel), DESCENT_ERR_SHAPE);
    CHECK_STATUS(descent_tensor_from_buffer(DESCENT_DTYPE_FLOAT64, 2, shape23, NULL, 6, &sentinel), DESCENT_ERR_NULL_POINTER);
    CHECK_STATUS(descent_tensor_from_buffer(DESCENT_DTYPE_FLOAT64, 2, shape23, values, -6, &sentinel), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_tensor_arange(DESCENT_DTYPE_FLOAT64, 0, 1, 0, &sentinel), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_tensor_arange(DESCENT_DTYPE_FLOAT64, 0, INFINITY, 1, &sentinel), DESCENT_ERR_NON_FINITE);
    CHECK_STATUS(descent_tensor_random_normal(DESCENT_DTYPE_FLOAT64, 2, shape23, 1, 0, -1, &sentinel), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(sentinel == 12345);

    /* handles: null, freed (stale), made-up; freeing twice is harmless */
    CHECK_OK(descent_tensor_zeros(DESCENT_DTYPE_FLOAT64, 2, shape23, &t));
    descent_tensor stale = t;
    CHECK_OK(descent_tensor_free(t));
    CHECK_OK(descent_tensor_free(stale));
    CHECK_OK(descent_tensor_free(0));
    double out = 42;
    CHECK_STATUS(descent_tensor_sum(stale, &out), DESCENT_ERR_INVALID_HANDLE);
    CHECK_STATUS(descent_tensor_sum(0, &out), DESCENT_ERR_INVALID_HANDLE);
    CHECK_STATUS(descent_tensor_sum(0xDEADBEEFCAFEull, &out), DESCENT_ERR_INVALID_HANDLE);
    CHECK_STATUS(descent_tensor_sum(1, &out), DESCENT_ERR_INVALID_HANDLE);
    CHECK(out == 42);
    /* a new tensor reusing the slot does not answer to the stale handle */
    descent_tensor reused = 0;
    CHECK_OK(descent_tensor_ones(DESCENT_DTYPE_FLOAT64, 2, shape23, &reused));
    CHECK(reused != stale);
    CHECK_STATUS(descent_tensor_scale(stale, 0.0), DESCENT_ERR_INVALID_HANDLE);
    CHECK_OK(descent_tensor_sum(reused, &out));
    CHECK(out == 6.0);
    CHECK_STATUS(descent_tensor_sum(reused, NULL), DESCENT_ERR_NULL_POINTER);
    CHECK_OK(descent_tensor_free(reused));
}

/* Threads: each creates, updates and frees its own tensors while sharing one read-only tensor;
 * the last error is per thread. */
static descent_tensor shared_tensor = 0;

static void *worker(void *argument) {
    long id = (long)argument;
    long failures = 0;
    if (descent_last_error()[0] != '\0') failures++; /* fresh thread: no error yet */
    for (int i = 0; i < 200; i++) {
        descent_tensor t = 0;
        if (descent_tensor_full(DESCENT_DTYPE_FLOAT64, 2, shape23, (double)id, &t) != DESCENT_OK) failures++;
        if (descent_tensor_axpy(1.0, shared_tensor, t) != DESCENT_OK) failures++;
        double sum = 0;
        if (descent_tensor_sum(t, &sum) != DESCENT_OK || sum != 6.0 * (double)id + 6.0) failures++;
        if (descent_tensor_free(t) != DESCENT_OK) failures++;
        if (descent_tensor_sum(t, &sum) != DESCENT_ERR_INVALID_HANDLE) failures++;
    }
    return (void *)failures;
}

static void test_threads(void) {
    CHECK_OK(descent_tensor_ones(DESCENT_DTYPE_FLOAT64, 2, shape23, &shared_tensor));
    (void)descent_tensor_sum(0, NULL); /* leaves an error on this thread only */
    pthread_t threads[4];
    for (long i = 0; i < 4; i++) pthread_create(&threads[i], NULL, worker, (void *)i);
    long total = 0;
    for (int i = 0; i < 4; i++) {
        void *result = NULL;
        pthread_join(threads[i], &result);
        total += (long)result;
    }
    CHECK(total == 0);
    CHECK(descent_last_error()[0] != '\0');
    CHECK_OK(descent_tensor_free(shared_tensor));
}

int main(void) {
    test_versions_and_status();
    test_create_and_query();
    test_wrap_is_zero_copy();
    test_kernels_against_loops();
    test_textbook_example();
    test_abuse();
    test_threads();
    return check_report("c foundation");
}
