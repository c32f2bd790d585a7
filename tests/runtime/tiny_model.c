/*
 * tiny_model.c - a hand-written stand-in for generated model code, to test the runtime.
 *
 *   inputs:  x        float32 [2, 3]
 *            row ids  int64   [2]          (a name with a space, as ONNX allows)
 *   outputs: y        float32 [2, 3]  y = 2 * x + bias
 *            z        float32 [2]     z[i] = r[row_ids[i]],  r = row sums of t
 *   weight:  bias     float32 [2, 3]  embedded from TINY_BIAS_PATH with LPFC_INCBIN
 *   arena:   t = 2 * x  at offset 0 (24 bytes),  r at offset 64 (8 bytes): 72 bytes
 *
 * A row id outside [-2, 2) makes the run fail with LPFC_ERR_EXECUTION, as a
 * generated gather would.
 */
#include <stdint.h>

#include "lpfc_incbin.h"
#include "lpfc_model_desc.h"

#ifndef TINY_BIAS_PATH
#error "define TINY_BIAS_PATH as the path of the 24-byte bias file"
#endif

LPFC_INCBIN(tiny_bias, TINY_BIAS_PATH);

static const int64_t dims_x[2] = {2, 3};
static const int64_t dims_ids[1] = {2};
static const int64_t dims_z[1] = {2};

static const lpfc_tensor_desc inputs[2] = {
    {"x", LPFC_DTYPE_FLOAT, 2, dims_x, 24, LPFC_STORAGE_CALLER, 0, 0},
    {"row ids", LPFC_DTYPE_INT64, 1, dims_ids, 16, LPFC_STORAGE_CALLER, 0, 0},
};
static const lpfc_tensor_desc outputs[2] = {
    {"y", LPFC_DTYPE_FLOAT, 2, dims_x, 24, LPFC_STORAGE_CALLER, 0, 0},
    {"z", LPFC_DTYPE_FLOAT, 1, dims_z, 8, LPFC_STORAGE_CALLER, 0, 0},
};
static const lpfc_tensor_desc tensors[3] = {
    {"t", LPFC_DTYPE_FLOAT, 2, dims_x, 24, LPFC_STORAGE_ARENA, 0, 0},
    {"r", LPFC_DTYPE_FLOAT, 1, dims_z, 8, LPFC_STORAGE_ARENA, 64, 0},
    {"bias", LPFC_DTYPE_FLOAT, 2, dims_x, 24, LPFC_STORAGE_WEIGHT, 0, tiny_bias},
};

static int last_threads;

/* Test hook: the thread count the last run received. */
LPFC_API int tiny_last_threads(void);
int tiny_last_threads(void) { return last_threads; }

static lpfc_status tiny_run(const lpfc_run_args *args) {
    const float *x = (const float *)args->inputs[0];
    const int64_t *ids = (const int64_t *)args->inputs[1];
    float *y = (float *)args->outputs[0];
    float *z = (float *)args->outputs[1];
    float *t = (float *)(args->arena + 0);
    float *r = (float *)(args->arena + 64);
    const float *bias = (const float *)(const void *)tiny_bias;
    int i, j;

    last_threads = args->num_threads;
    if ((uintptr_t)args->arena % LPFC_ARENA_ALIGNMENT != 0)
        return lpfc_run_fail(args, LPFC_ERR_EXECUTION, "arena is not %u-byte aligned", LPFC_ARENA_ALIGNMENT);
    if (tiny_bias_end - tiny_bias != 24)
        return lpfc_run_fail(args, LPFC_ERR_EXECUTION, "embedded bias has %ld bytes, not 24",
                             (long)(tiny_bias_end - tiny_bias));
    for (i = 0; i < 6; ++i) t[i] = 2.0f * x[i];
    for (i = 0; i < 6; ++i) y[i] = t[i] + bias[i];
    for (i = 0; i < 2; ++i) {
        r[i] = 0.0f;
        for (j = 0; j < 3; ++j) r[i] += t[3 * i + j];
    }
    for (i = 0; i < 2; ++i) {
        int64_t k = ids[i];
        if (k < -2 || k >= 2)
            return lpfc_run_fail(args, LPFC_ERR_EXECUTION,
                                 "gather 'z': index %lld in input 'row ids' is outside [-2, 2)", (long long)k);
        z[i] = r[k < 0 ? k + 2 : k];
    }
    return LPFC_OK;
}

static const lpfc_model_desc tiny_desc = {
    LPFC_ABI_VERSION, "tiny", 2, inputs, 2, outputs, 3, tensors, 72, tiny_run, NULL,
};

const lpfc_model_desc *lpfc_generated_model(void) { return &tiny_desc; }
