/*
 * driver.c - exercises the C API of a model library built from tiny_model.c.
 *
 * Prints "driver: N checks passed" and exits 0, or prints each failed check to
 * stderr and exits 1.  Run natively, under AddressSanitizer/UBSan, and under
 * qemu-aarch64 by tests/runtime/test_runtime.py.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lpfc_model_desc.h"
#include "lpfc_runtime.h"

int tiny_last_threads(void);

static int checks, failures;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        ++checks;                                                                     \
        if (!(cond)) {                                                                \
            ++failures;                                                               \
            fprintf(stderr, "driver.c:%d: check failed: %s\n", __LINE__, #cond);      \
        }                                                                             \
    } while (0)

/* Expects status `want` and a last_error containing each of up to three fragments. */
#define EXPECT_ERR(m, got, want, f1, f2, f3) expect_err(__LINE__, (m), (got), (want), (f1), (f2), (f3))

static void expect_err(int line, const lpfc_model *m, lpfc_status got, lpfc_status want, const char *f1,
                       const char *f2, const char *f3) {
    const char *msg = lpfc_model_last_error(m);
    const char *frags[3];
    int i;
    frags[0] = f1;
    frags[1] = f2;
    frags[2] = f3;
    ++checks;
    if (got != want) {
        ++failures;
        fprintf(stderr, "driver.c:%d: status %s, expected %s (message: %s)\n", line, lpfc_status_name(got),
                lpfc_status_name(want), msg);
        return;
    }
    for (i = 0; i < 3; ++i) {
        if (frags[i] != NULL && strstr(msg, frags[i]) == NULL) {
            ++failures;
            fprintf(stderr, "driver.c:%d: message lacks \"%s\": %s\n", line, frags[i], msg);
        }
    }
}

/* The inputs and outputs of one well-formed run, and tensors pointing at them. */
typedef struct fixture {
    float x[6];
    int64_t ids[2];
    float y[6];
    float z[2];
    int64_t dims_x[2], dims_ids[1], dims_z[1];
    lpfc_tensor in[2], out[2];
} fixture;

static void setup(fixture *f) {
    int i;
    for (i = 0; i < 6; ++i) f->x[i] = (float)i;   /* rows {0,1,2}, {3,4,5} */
    f->ids[0] = 1;
    f->ids[1] = -2;
    for (i = 0; i < 6; ++i) f->y[i] = -99.0f;
    f->z[0] = f->z[1] = -99.0f;
    f->dims_x[0] = 2;
    f->dims_x[1] = 3;
    f->dims_ids[0] = 2;
    f->dims_z[0] = 2;
    f->in[0].name = "x";
    f->in[0].dtype = LPFC_DTYPE_FLOAT;
    f->in[0].rank = 2;
    f->in[0].dims = f->dims_x;
    f->in[0].data = f->x;
    f->in[0].size_bytes = sizeof f->x;
    f->in[1].name = "row ids";
    f->in[1].dtype = LPFC_DTYPE_INT64;
    f->in[1].rank = 1;
    f->in[1].dims = f->dims_ids;
    f->in[1].data = f->ids;
    f->in[1].size_bytes = sizeof f->ids;
    f->out[0].name = "y";
    f->out[0].dtype = LPFC_DTYPE_FLOAT;
    f->out[0].rank = 2;
    f->out[0].dims = f->dims_x;
    f->out[0].data = f->y;
    f->out[0].size_bytes = sizeof f->y;
    f->out[1].name = "z";
    f->out[1].dtype = LPFC_DTYPE_FLOAT;
    f->out[1].rank = 1;
    f->out[1].dims = f->dims_z;
    f->out[1].data = f->z;
    f->out[1].size_bytes = sizeof f->z;
}

static int results_ok(const fixture *f) {
    /* bias is 0.5 * (i + 1), written by the test; t = 2x; r = {6, 24}; z = {r[1], r[0]}. */
    int i;
    for (i = 0; i < 6; ++i)
        if (f->y[i] != 2.0f * (float)i + 0.5f * (float)(i + 1)) return 0;
    return f->z[0] == 24.0f && f->z[1] == 6.0f;
}

static int untouched(const fixture *f) {
    int i;
    for (i = 0; i < 6; ++i)
        if (f->y[i] != -99.0f) return 0;
    return f->z[0] == -99.0f && f->z[1] == -99.0f;
}

static void test_queries(lpfc_model *m) {
    lpfc_tensor_info info;
    size_t index = 99;
    CHECK(lpfc_model_num_inputs(m) == 2);
    CHECK(lpfc_model_num_outputs(m) == 2);
    CHECK(lpfc_model_num_inputs(NULL) == 0);
    CHECK(lpfc_model_arena_bytes(m) == 72);
    CHECK(lpfc_model_input_info(m, 1, &info) == LPFC_OK);
    CHECK(strcmp(info.name, "row ids") == 0 && info.dtype == LPFC_DTYPE_INT64 && info.rank == 1 &&
          info.dims[0] == 2 && info.size_bytes == 16);
    CHECK(lpfc_model_output_info(m, 0, &info) == LPFC_OK);
    CHECK(strcmp(info.name, "y") == 0 && info.rank == 2 && info.dims[0] == 2 && info.dims[1] == 3);
    CHECK(lpfc_model_input_info(m, 2, &info) == LPFC_ERR_INDEX);
    CHECK(lpfc_model_output_info(m, (size_t)-1, &info) == LPFC_ERR_INDEX);
    CHECK(lpfc_model_input_info(NULL, 0, &info) == LPFC_ERR_NULL_POINTER);
    CHECK(lpfc_model_input_info(m, 0, NULL) == LPFC_ERR_NULL_POINTER);
    CHECK(lpfc_model_find_input(m, "row ids", &index) == LPFC_OK && index == 1);
    CHECK(lpfc_model_find_output(m, "z", &index) == LPFC_OK && index == 1);
    CHECK(lpfc_model_find_input(m, "y", &index) == LPFC_ERR_UNKNOWN_NAME);
    CHECK(lpfc_model_find_input(m, NULL, &index) == LPFC_ERR_NULL_POINTER);
    CHECK(lpfc_model_find_input(m, "x", NULL) == LPFC_ERR_NULL_POINTER);
    CHECK(strcmp(lpfc_model_last_error(m), "") == 0); /* queries leave it alone */
    CHECK(strstr(lpfc_model_last_error(NULL), "NULL") != NULL);
}

static void test_good_runs(lpfc_model *m) {
    fixture f;
    lpfc_tensor in_rev[2], out_rev[2];
    setup(&f);
    CHECK(lpfc_model_run(m, f.in, 2, f.out, 2) == LPFC_OK);
    CHECK(results_ok(&f));
    CHECK(strcmp(lpfc_model_last_error(m), "") == 0);

    /* By position: names NULL. */
    setup(&f);
    f.in[0].name = f.in[1].name = NULL;
    f.out[0].name = f.out[1].name = NULL;
    CHECK(lpfc_model_run(m, f.in, 2, f.out, 2) == LPFC_OK);
    CHECK(results_ok(&f));

    /* By name in another order; larger buffers than needed are fine. */
    setup(&f);
    in_rev[0] = f.in[1];
    in_rev[1] = f.in[0];
    out_rev[0] = f.out[1];
    out_rev[1] = f.out[0];
    in_rev[1].size_bytes += 100; /* the caller may say its buffer is larger (it is not read) */
    CHECK(lpfc_model_run(m, in_rev, 2, out_rev, 2) == LPFC_OK);
    CHECK(results_ok(&f));
}

static void test_bad_runs(lpfc_model *m) {
    fixture f;
    int64_t dims_bad[2] = {3, 2};
    int64_t dims_rank3[3] = {1, 2, 3};
    lpfc_tensor three[3];
    char long_name[3000];
    lpfc_status s;

    setup(&f);
    f.in[0].dims = dims_bad;
    EXPECT_ERR(m, lpfc_model_run(m, f.in, 2, f.out, 2), LPFC_ERR_SHAPE, "input 'x'", "shape [3, 2] given",
               "expects float32 [2, 3]");
    CHECK(untouched(&f));

    setup(&f);
    f.in[0].rank = 3;
    f.in[0].dims = dims_rank3;
    EXPECT_ERR(m, lpfc_model_run(m, f.in, 2, f.out, 2), LPFC_ERR_SHAPE, "[1, 2, 3] given", "[2, 3]", NULL);

    setup(&f);
    f.in[0].rank = 1000000;
    EXPECT_ERR(m, lpfc_model_run(m, f.in, 2, f.out, 2), LPFC_ERR_SHAPE, "rank 1000000 given", NULL, NULL);

    setup(&f);
    f.in[1].rank = -1;
    EXPECT_ERR(m, lpfc_model_run(m, f.in, 2, f.out, 2), LPFC_ERR_SHAPE, "'row ids'", "rank -1", NULL);

    setup(&f);
    f.in[1].dtype = LPFC_DTYPE_INT32;
    EXPECT_ERR(m, lpfc_model_run(m, f.in, 2, f.out, 2), LPFC_ERR_DTYPE, "input 'row ids' (#1)", "dtype int32 given",
               "expects int64 [2]");

    setup(&f);
    f.out[0].dtype = (lpfc_dtype)999;
    EXPECT_ERR(m, lpfc_model_run(m, f.in, 2, f.out, 2), LPFC_ERR_DTYPE, "output 'y'", "dtype 999 (unknown)", NULL);

    setup(&f);
    EXPECT_ERR(m, lpfc_model_run(m, f.in, 1, f.out, 2), LPFC_ERR_MISSING, "input 'row ids' (#1): missing",
               "int64 [2]", NULL);

    setup(&f);
    EXPECT_ERR(m, lpfc_model_run(m, f.in, 2, f.out, 1), LPFC_ERR_MISSING, "output 'z'", NULL, NULL);

    setup(&f);
    EXPECT_ERR(m, lpfc_model_run(m, NULL, 0, f.out, 2), LPFC_ERR_MISSING, "input 'x'", NULL, NULL);

    setup(&f);
    f.in[1].name = "row_ids";
    EXPECT_ERR(m, lpfc_model_run(m, f.in, 2, f.out, 2), LPFC_ERR_UNKNOWN_NAME, "input #1 is named 'row_ids'",
               "('x', 'row ids')", NULL);

    setup(&f);
    f.in[1].name = "bad\n\x01'name";
    EXPECT_ERR(m, lpfc_model_run(m, f.in, 2, f.out, 2), LPFC_ERR_UNKNOWN_NAME, "'bad\\x0a\\x01\\'name'", NULL, NULL);

    setup(&f);
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    f.in[0].name = long_name;
    EXPECT_ERR(m, lpfc_model_run(m, f.in, 2, f.out, 2), LPFC_ERR_UNKNOWN_NAME, "aaa...'", NULL, NULL);
    CHECK(strlen(lpfc_model_last_error(m)) < 1024);

    setup(&f);
    f.in[1].name = "x";
    EXPECT_ERR(m, lpfc_model_run(m, f.in, 2, f.out, 2), LPFC_ERR_DUPLICATE, "input 'x' (#0): given twice",
               "#0 and #1", NULL);

    setup(&f);
    three[0] = f.in[0];
    three[1] = f.in[1];
    three[2] = f.in[1];
    three[2].name = NULL;
    EXPECT_ERR(m, lpfc_model_run(m, three, 3, f.out, 2), LPFC_ERR_INDEX, "input #2 has no name", "only 2 inputs",
               NULL);

    /* NULL pointers. */
    setup(&f);
    CHECK(lpfc_model_run(NULL, f.in, 2, f.out, 2) == LPFC_ERR_NULL_POINTER);
    EXPECT_ERR(m, lpfc_model_run(m, NULL, 2, f.out, 2), LPFC_ERR_NULL_POINTER, "inputs array is NULL", NULL, NULL);
    EXPECT_ERR(m, lpfc_model_run(m, f.in, 2, NULL, 2), LPFC_ERR_NULL_POINTER, "outputs array is NULL", NULL, NULL);
    f.in[0].data = NULL;
    EXPECT_ERR(m, lpfc_model_run(m, f.in, 2, f.out, 2), LPFC_ERR_NULL_POINTER, "input 'x' (#0): data is NULL",
               "24 bytes", NULL);
    setup(&f);
    f.out[1].data = NULL;
    EXPECT_ERR(m, lpfc_model_run(m, f.in, 2, f.out, 2), LPFC_ERR_NULL_POINTER, "output 'z'", "data is NULL", NULL);
    CHECK(untouched(&f));
    setup(&f);
    f.in[0].dims = NULL;
    EXPECT_ERR(m, lpfc_model_run(m, f.in, 2, f.out, 2), LPFC_ERR_NULL_POINTER, "dims is NULL", NULL, NULL);

    /* Sizes and alignment. */
    setup(&f);
    f.out[0].size_bytes = 20;
    EXPECT_ERR(m, lpfc_model_run(m, f.in, 2, f.out, 2), LPFC_ERR_BUFFER_SIZE, "output 'y' (#0)", "holds 20 bytes",
               "needs 24");
    CHECK(untouched(&f));
    setup(&f);
    f.in[1].size_bytes = 8;
    EXPECT_ERR(m, lpfc_model_run(m, f.in, 2, f.out, 2), LPFC_ERR_BUFFER_SIZE, "input 'row ids'", NULL, NULL);
    setup(&f);
    f.in[0].data = (char *)f.x + 1;
    f.in[0].size_bytes = sizeof f.x - 1;
    f.in[0].size_bytes = 24; /* claims enough; the pointer is what is wrong */
    EXPECT_ERR(m, lpfc_model_run(m, f.in, 2, f.out, 2), LPFC_ERR_ALIGNMENT, "input 'x'", "4-byte elements", NULL);

    /* Aliasing. */
    setup(&f);
    f.out[0].data = f.x;
    EXPECT_ERR(m, lpfc_model_run(m, f.in, 2, f.out, 2), LPFC_ERR_ALIASING, "output 'y'", "overlaps input 'x'", NULL);
    setup(&f);
    f.out[1].data = &f.y[4];
    EXPECT_ERR(m, lpfc_model_run(m, f.in, 2, f.out, 2), LPFC_ERR_ALIASING, "output 'z'", "overlaps output 'y'",
               NULL);

    /* A data-dependent failure inside the model. */
    setup(&f);
    f.ids[1] = 5;
    EXPECT_ERR(m, lpfc_model_run(m, f.in, 2, f.out, 2), LPFC_ERR_EXECUTION, "index 5", "'row ids'", NULL);

    /* And the handle still works after all that. */
    setup(&f);
    s = lpfc_model_run(m, f.in, 2, f.out, 2);
    CHECK(s == LPFC_OK && results_ok(&f));
    CHECK(strcmp(lpfc_model_last_error(m), "") == 0);
}

static void test_threads(lpfc_model *m) {
    fixture f;
    CHECK(lpfc_model_get_threads(m) >= 1);
    EXPECT_ERR(m, lpfc_model_set_threads(m, -3), LPFC_ERR_INVALID_ARGUMENT, "thread count -3 is negative", NULL,
               NULL);
    CHECK(lpfc_model_set_threads(NULL, 2) == LPFC_ERR_NULL_POINTER);
    CHECK(lpfc_model_set_threads(m, 3) == LPFC_OK && lpfc_model_get_threads(m) == 3);
    setup(&f);
    CHECK(lpfc_model_run(m, f.in, 2, f.out, 2) == LPFC_OK && tiny_last_threads() == 3);
    CHECK(lpfc_model_set_threads(m, 0) == LPFC_OK && lpfc_model_get_threads(m) >= 1);
    CHECK(lpfc_model_get_threads(NULL) == 0);
}

/* -- descriptors that lpfc_model_create_from_desc must refuse ------------------------------ */

static lpfc_status run_ok(const lpfc_run_args *args) {
    (void)args;
    return LPFC_OK;
}

static lpfc_status run_weird(const lpfc_run_args *args) {
    (void)args;
    return (lpfc_status)12345;
}

static const int64_t d23[2] = {2, 3};
static const int64_t dneg[1] = {-1};
static const float weight[6] = {0};

static void expect_bad_desc(int line, const lpfc_model_desc *desc, lpfc_status want, const char *fragment) {
    lpfc_model *m = (lpfc_model *)&checks; /* must be reset to NULL */
    char error[256];
    lpfc_status s = lpfc_model_create_from_desc(desc, &m, error, sizeof error);
    ++checks;
    if (s != want || m != NULL || strstr(error, fragment) == NULL) {
        ++failures;
        fprintf(stderr, "driver.c:%d: create_from_desc gave %s (%s), expected %s with \"%s\"\n", line,
                lpfc_status_name(s), error, lpfc_status_name(want), fragment);
    }
    if (s == LPFC_OK) lpfc_model_destroy(m);
}

static void test_descriptors(void) {
    lpfc_tensor_desc io[2] = {
        {"a", LPFC_DTYPE_FLOAT, 2, d23, 24, LPFC_STORAGE_CALLER, 0, 0},
        {"b", LPFC_DTYPE_FLOAT, 2, d23, 24, LPFC_STORAGE_CALLER, 0, 0},
    };
    lpfc_tensor_desc inner[2] = {
        {"t", LPFC_DTYPE_FLOAT, 2, d23, 24, LPFC_STORAGE_ARENA, 64, 0},
        {"w", LPFC_DTYPE_FLOAT, 2, d23, 24, LPFC_STORAGE_WEIGHT, 0, weight},
    };
    lpfc_model_desc good = {LPFC_ABI_VERSION, "good", 1, io, 1, io + 1, 2, inner, 128, run_ok, NULL};
    lpfc_model_desc d;
    lpfc_model *m = NULL;
    fixture f;
    char error[64];

    CHECK(lpfc_model_create_from_desc(&good, &m, NULL, 0) == LPFC_OK && m != NULL);
    lpfc_model_destroy(m);
    CHECK(lpfc_model_create_from_desc(&good, NULL, error, sizeof error) == LPFC_ERR_NULL_POINTER);
    expect_bad_desc(__LINE__, NULL, LPFC_ERR_NULL_POINTER, "descriptor is NULL");

    d = good;
    d.abi_version = 999;
    expect_bad_desc(__LINE__, &d, LPFC_ERR_INVALID_MODEL, "ABI version 999");
    d = good;
    d.run = NULL;
    expect_bad_desc(__LINE__, &d, LPFC_ERR_INVALID_MODEL, "no run function");
    d = good;
    d.inputs = NULL;
    expect_bad_desc(__LINE__, &d, LPFC_ERR_INVALID_MODEL, "1 inputs but no table");
    d = good;
    d.num_inputs = 2; /* a and b: fine; then make the names clash */
    io[1].name = "a";
    expect_bad_desc(__LINE__, &d, LPFC_ERR_INVALID_MODEL, "two inputs are named 'a'");
    io[1].name = "b";
    io[0].size_bytes = 20;
    expect_bad_desc(__LINE__, &d, LPFC_ERR_INVALID_MODEL, "declares 20 bytes");
    io[0].size_bytes = 24;
    io[0].dtype = (lpfc_dtype)0;
    expect_bad_desc(__LINE__, &d, LPFC_ERR_INVALID_MODEL, "unknown dtype 0");
    io[0].dtype = LPFC_DTYPE_FLOAT;
    io[0].rank = LPFC_MAX_RANK + 1;
    expect_bad_desc(__LINE__, &d, LPFC_ERR_INVALID_MODEL, "rank 9");
    io[0].rank = 1;
    io[0].dims = dneg;
    expect_bad_desc(__LINE__, &d, LPFC_ERR_INVALID_MODEL, "negative or too large");
    io[0].rank = 2;
    io[0].dims = d23;
    io[0].storage = LPFC_STORAGE_ARENA;
    expect_bad_desc(__LINE__, &d, LPFC_ERR_INVALID_MODEL, "LPFC_STORAGE_CALLER");
    io[0].storage = LPFC_STORAGE_CALLER;
    io[0].name = NULL;
    expect_bad_desc(__LINE__, &d, LPFC_ERR_INVALID_MODEL, "input #0 has no name");
    io[0].name = "a";

    d = good;
    d.arena_bytes = 80;
    expect_bad_desc(__LINE__, &d, LPFC_ERR_INVALID_MODEL, "outside the 80-byte arena");
    d = good;
    inner[0].offset = 32;
    expect_bad_desc(__LINE__, &d, LPFC_ERR_INVALID_MODEL, "misaligned");
    inner[0].offset = 64;
    inner[0].storage = (lpfc_storage)7;
    expect_bad_desc(__LINE__, &d, LPFC_ERR_INVALID_MODEL, "unknown storage 7");
    inner[0].storage = LPFC_STORAGE_ARENA;
    inner[1].data = NULL;
    expect_bad_desc(__LINE__, &d, LPFC_ERR_INVALID_MODEL, "weight with no data");
    inner[1].data = weight;
    d.arena_bytes = (size_t)-1;
    expect_bad_desc(__LINE__, &d, LPFC_ERR_OUT_OF_MEMORY, "out of memory");

    /* A run function that returns something that is not a status. */
    d = good;
    d.run = run_weird;
    m = NULL;
    CHECK(lpfc_model_create_from_desc(&d, &m, NULL, 0) == LPFC_OK);
    setup(&f);
    f.in[0].name = "a";
    f.out[0].name = "b";
    f.out[0].data = f.y;
    EXPECT_ERR(m, lpfc_model_run(m, f.in, 1, f.out, 1), LPFC_ERR_EXECUTION, "failed with LPFC_ERR_EXECUTION", NULL,
               NULL);
    lpfc_model_destroy(m);

    /* A model with no arena and zero-sized tensors. */
    {
        static const int64_t d0[1] = {0};
        lpfc_tensor_desc empty_io[1] = {{"e", LPFC_DTYPE_UINT8, 1, d0, 0, LPFC_STORAGE_CALLER, 0, 0}};
        lpfc_model_desc e = {LPFC_ABI_VERSION, "empty", 1, empty_io, 0, NULL, 0, NULL, 0, run_ok, NULL};
        int64_t zero = 0;
        lpfc_tensor t;
        t.name = "e";
        t.dtype = LPFC_DTYPE_UINT8;
        t.rank = 1;
        t.dims = &zero;
        t.data = NULL;
        t.size_bytes = 0;
        m = NULL;
        CHECK(lpfc_model_create_from_desc(&e, &m, NULL, 0) == LPFC_OK && lpfc_model_arena_bytes(m) == 0);
        CHECK(lpfc_model_run(m, &t, 1, NULL, 0) == LPFC_OK);
        lpfc_model_destroy(m);
    }
}

static void test_helpers(void) {
    CHECK(strcmp(lpfc_status_name(LPFC_ERR_SHAPE), "LPFC_ERR_SHAPE") == 0);
    CHECK(strcmp(lpfc_status_name((lpfc_status)777), "LPFC_ERR_UNKNOWN_STATUS") == 0);
    CHECK(strcmp(lpfc_dtype_name(LPFC_DTYPE_FLOAT16), "float16") == 0);
    CHECK(lpfc_dtype_size(LPFC_DTYPE_DOUBLE) == 8 && lpfc_dtype_size(LPFC_DTYPE_BOOL) == 1);
    CHECK(lpfc_dtype_size((lpfc_dtype)8) == 0); /* ONNX's STRING: not supported */
    CHECK(strcmp(lpfc_runtime_version(), LPFC_RUNTIME_VERSION) == 0);
    lpfc_model_destroy(NULL);
}

int main(void) {
    lpfc_model *m = NULL;
    lpfc_model *m2 = NULL;
    fixture f;
    CHECK(lpfc_model_create(NULL) == LPFC_ERR_NULL_POINTER);
    if (lpfc_model_create(&m) != LPFC_OK || m == NULL) {
        fprintf(stderr, "driver: lpfc_model_create failed\n");
        return 1;
    }
    test_queries(m);
    test_good_runs(m);
    test_bad_runs(m);
    test_threads(m);
    /* Two handles are independent. */
    CHECK(lpfc_model_create(&m2) == LPFC_OK);
    setup(&f);
    CHECK(lpfc_model_run(m2, f.in, 2, f.out, 2) == LPFC_OK && results_ok(&f));
    lpfc_model_destroy(m2);
    lpfc_model_destroy(m);
    test_descriptors();
    test_helpers();
    if (failures) {
        fprintf(stderr, "driver: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("driver: %d checks passed\n", checks);
    return 0;
}
