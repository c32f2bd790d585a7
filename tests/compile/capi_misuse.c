/* Misuse of a compiled model through the C API: every call must fail with its status and a message,
 * never crash and never write an output.  Built against libmodel.h (any model with >= 1 input). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libmodel.h"

static int failures, checks;

static void expect(lpfc_model *m, lpfc_status got, lpfc_status want, const char *what) {
    ++checks;
    if (got != want) {
        ++failures;
        printf("FAIL %s: %s, expected %s (%s)\n", what, lpfc_status_name(got), lpfc_status_name(want),
               lpfc_model_last_error(m));
    } else if (want != LPFC_OK && lpfc_model_last_error(m)[0] == '\0' && m != NULL) {
        ++failures;
        printf("FAIL %s: no message\n", what);
    } else {
        printf("ok %s: %s\n", what, want == LPFC_OK ? "" : lpfc_model_last_error(m));
    }
}

int main(void) {
    static const char *const names[MODEL_NUM_INPUTS] = MODEL_INPUT_NAMES;
    static const lpfc_dtype dtypes[MODEL_NUM_INPUTS] = MODEL_INPUT_DTYPES;
    static const size_t bytes[MODEL_NUM_INPUTS] = MODEL_INPUT_SIZE_BYTES;
    static const size_t obytes[MODEL_NUM_OUTPUTS] = MODEL_OUTPUT_SIZE_BYTES;
    lpfc_tensor in[MODEL_NUM_INPUTS], out[MODEL_NUM_OUTPUTS], saved;
    int64_t bad_dims[9];
    lpfc_model *m = NULL;
    int i;

    if (lpfc_model_create(&m) != LPFC_OK) return 2;
    for (i = 0; i < MODEL_NUM_INPUTS; ++i) {
        lpfc_tensor_info info;
        if (lpfc_model_input_info(m, (size_t)i, &info) != LPFC_OK) return 2;
        in[i].name = names[i];
        in[i].dtype = dtypes[i];
        in[i].rank = info.rank;
        in[i].dims = info.dims;
        in[i].size_bytes = bytes[i];
        in[i].data = calloc(bytes[i] ? bytes[i] : 1, 1);
    }
    for (i = 0; i < MODEL_NUM_OUTPUTS; ++i) {
        lpfc_tensor_info info;
        if (lpfc_model_output_info(m, (size_t)i, &info) != LPFC_OK) return 2;
        out[i].name = info.name;
        out[i].dtype = info.dtype;
        out[i].rank = info.rank;
        out[i].dims = info.dims;
        out[i].size_bytes = obytes[i];
        out[i].data = calloc(obytes[i] ? obytes[i] : 1, 1);
    }
    expect(m, lpfc_model_run(m, in, MODEL_NUM_INPUTS, out, MODEL_NUM_OUTPUTS), LPFC_OK, "good run");

    saved = in[0];
    memcpy(bad_dims, in[0].dims, sizeof(int64_t) * (size_t)in[0].rank);
    bad_dims[0] += 1;
    in[0].dims = bad_dims;
    expect(m, lpfc_model_run(m, in, MODEL_NUM_INPUTS, out, MODEL_NUM_OUTPUTS), LPFC_ERR_SHAPE, "wrong shape");
    in[0] = saved;
    in[0].rank = saved.rank + 1;
    bad_dims[0] -= 1;
    bad_dims[saved.rank] = 1;
    in[0].dims = bad_dims;
    expect(m, lpfc_model_run(m, in, MODEL_NUM_INPUTS, out, MODEL_NUM_OUTPUTS), LPFC_ERR_SHAPE, "wrong rank");
    in[0] = saved;
    in[0].dtype = saved.dtype == LPFC_DTYPE_FLOAT ? LPFC_DTYPE_DOUBLE : LPFC_DTYPE_FLOAT;
    expect(m, lpfc_model_run(m, in, MODEL_NUM_INPUTS, out, MODEL_NUM_OUTPUTS), LPFC_ERR_DTYPE, "wrong dtype");
    in[0] = saved;
    expect(m, lpfc_model_run(m, in + 1, MODEL_NUM_INPUTS - 1, out, MODEL_NUM_OUTPUTS), LPFC_ERR_MISSING,
           "missing input");
    in[0].data = NULL;
    expect(m, lpfc_model_run(m, in, MODEL_NUM_INPUTS, out, MODEL_NUM_OUTPUTS), LPFC_ERR_NULL_POINTER, "NULL data");
    in[0] = saved;
    in[0].dims = NULL;
    expect(m, lpfc_model_run(m, in, MODEL_NUM_INPUTS, out, MODEL_NUM_OUTPUTS), LPFC_ERR_NULL_POINTER, "NULL dims");
    in[0] = saved;
    expect(m, lpfc_model_run(m, NULL, MODEL_NUM_INPUTS, out, MODEL_NUM_OUTPUTS), LPFC_ERR_NULL_POINTER,
           "NULL inputs");
    expect(m, lpfc_model_run(m, in, MODEL_NUM_INPUTS, NULL, MODEL_NUM_OUTPUTS), LPFC_ERR_NULL_POINTER,
           "NULL outputs");
    ++checks;
    if (lpfc_model_run(NULL, in, MODEL_NUM_INPUTS, out, MODEL_NUM_OUTPUTS) != LPFC_ERR_NULL_POINTER) {
        ++failures;
        printf("FAIL NULL model\n");
    }
    in[0].name = "no such input";
    expect(m, lpfc_model_run(m, in, MODEL_NUM_INPUTS, out, MODEL_NUM_OUTPUTS), LPFC_ERR_UNKNOWN_NAME,
           "unknown name");
    in[0] = saved;
    out[0].size_bytes = obytes[0] - 1;
    expect(m, lpfc_model_run(m, in, MODEL_NUM_INPUTS, out, MODEL_NUM_OUTPUTS), LPFC_ERR_BUFFER_SIZE,
           "small output buffer");
    out[0].size_bytes = obytes[0];
    expect(m, lpfc_model_run(m, in, MODEL_NUM_INPUTS, out, MODEL_NUM_OUTPUTS), LPFC_OK, "good run again");

    for (i = 0; i < MODEL_NUM_INPUTS; ++i) free(in[i].data);
    for (i = 0; i < MODEL_NUM_OUTPUTS; ++i) free(out[i].data);
    lpfc_model_destroy(m);
    printf("%d checks, %d failures\n", checks, failures);
    return failures != 0;
}
