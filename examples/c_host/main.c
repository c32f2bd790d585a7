/*
 * A C host for a model compiled by lpfc: links libmodel.so through its generated header.
 *
 *   lpfc compile model.onnx -o build/libmodel.so          # writes build/libmodel.so and build/libmodel.h
 *   gcc -std=c99 -O2 -Ibuild examples/c_host/main.c -Lbuild -lmodel -Wl,-rpath,build -o build/host
 *   build/host [--threads N] [--in input0.bin ...] [--out output0.bin ...]
 *
 * Inputs are raw little-endian arrays read from the --in files, in the model's input order (without
 * --in every element is 1, which suits token ids, masks and floats alike).  Each output is printed
 * (name, dtype, shape, sum) and, with --out, written raw.  Exit status 0 on success, 1 on any error.
 * (make -C examples/c_host MODEL=path/to/model.onnx does all three steps.)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libmodel.h" /* the lpfc runtime's C API and MODEL_* macros for this model */

static void fill_ones(void *data, lpfc_dtype dtype, size_t count) {
    size_t i;
    for (i = 0; i < count; ++i) {
        switch (dtype) {
        case LPFC_DTYPE_FLOAT: ((float *)data)[i] = 1.0f; break;
        case LPFC_DTYPE_DOUBLE: ((double *)data)[i] = 1.0; break;
        case LPFC_DTYPE_INT64: ((int64_t *)data)[i] = 1; break;
        case LPFC_DTYPE_INT32: ((int32_t *)data)[i] = 1; break;
        default: memset((unsigned char *)data + i * lpfc_dtype_size(dtype), 0, lpfc_dtype_size(dtype));
                 ((unsigned char *)data)[i * lpfc_dtype_size(dtype)] = 1; break;
        }
    }
}

static double sum_of(const void *data, lpfc_dtype dtype, size_t count) {
    double s = 0;
    size_t i;
    for (i = 0; i < count; ++i) {
        switch (dtype) {
        case LPFC_DTYPE_FLOAT: s += ((const float *)data)[i]; break;
        case LPFC_DTYPE_DOUBLE: s += ((const double *)data)[i]; break;
        case LPFC_DTYPE_INT64: s += (double)((const int64_t *)data)[i]; break;
        case LPFC_DTYPE_INT32: s += ((const int32_t *)data)[i]; break;
        default: s += ((const unsigned char *)data)[i * lpfc_dtype_size(dtype)]; break;
        }
    }
    return s;
}

static int read_file(const char *path, void *data, size_t size) {
    FILE *f = fopen(path, "rb");
    size_t n;
    long end;
    if (f == NULL) { fprintf(stderr, "host: cannot open %s\n", path); return 1; }
    n = fread(data, 1, size, f);
    end = (fseek(f, 0, SEEK_END) == 0) ? ftell(f) : -1;
    fclose(f);
    if (n != size || end != (long)size) {
        fprintf(stderr, "host: %s holds %ld bytes, the input needs %lu\n", path, end, (unsigned long)size);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    static const char *const input_names[MODEL_NUM_INPUTS] = MODEL_INPUT_NAMES;
    static const lpfc_dtype input_dtypes[MODEL_NUM_INPUTS] = MODEL_INPUT_DTYPES;
    static const size_t input_bytes[MODEL_NUM_INPUTS] = MODEL_INPUT_SIZE_BYTES;
    static const size_t output_bytes[MODEL_NUM_OUTPUTS] = MODEL_OUTPUT_SIZE_BYTES;
    const char *in_files[MODEL_NUM_INPUTS] = {0}, *out_files[MODEL_NUM_OUTPUTS] = {0};
    lpfc_tensor in[MODEL_NUM_INPUTS], out[MODEL_NUM_OUTPUTS];
    lpfc_model *model = NULL;
    int threads = 0, n_in = 0, n_out = 0, status = 1, i, k;

    memset(in, 0, sizeof in);
    memset(out, 0, sizeof out);
    for (i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--in") == 0 && i + 1 < argc && n_in < MODEL_NUM_INPUTS) in_files[n_in++] = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc && n_out < MODEL_NUM_OUTPUTS) out_files[n_out++] = argv[++i];
        else { fprintf(stderr, "usage: %s [--threads N] [--in FILE]... [--out FILE]...\n", argv[0]); return 1; }
    }
    if (lpfc_model_create(&model) != LPFC_OK) { fprintf(stderr, "host: out of memory\n"); return 1; }
    if (lpfc_model_num_inputs(model) != MODEL_NUM_INPUTS || lpfc_model_num_outputs(model) != MODEL_NUM_OUTPUTS) {
        fprintf(stderr, "host: libmodel.so does not match libmodel.h\n");
        goto done;
    }
    if (lpfc_model_set_threads(model, threads) != LPFC_OK) {
        fprintf(stderr, "host: %s\n", lpfc_model_last_error(model));
        goto done;
    }
    for (i = 0; i < MODEL_NUM_INPUTS; ++i) { /* shapes come from the library, names from the header */
        lpfc_tensor_info info;
        lpfc_model_input_info(model, (size_t)i, &info);
        in[i].name = input_names[i];
        in[i].dtype = input_dtypes[i];
        in[i].rank = info.rank;
        in[i].dims = info.dims;
        in[i].size_bytes = input_bytes[i];
        in[i].data = malloc(input_bytes[i] ? input_bytes[i] : 1);
        if (in[i].data == NULL) goto done;
        if (in_files[i] != NULL) {
            if (read_file(in_files[i], in[i].data, input_bytes[i])) goto done;
        } else {
            fill_ones(in[i].data, in[i].dtype, input_bytes[i] / lpfc_dtype_size(in[i].dtype));
        }
    }
    for (i = 0; i < MODEL_NUM_OUTPUTS; ++i) {
        lpfc_tensor_info info;
        lpfc_model_output_info(model, (size_t)i, &info);
        out[i].name = info.name;
        out[i].dtype = info.dtype;
        out[i].rank = info.rank;
        out[i].dims = info.dims;
        out[i].size_bytes = output_bytes[i];
        out[i].data = malloc(output_bytes[i] ? output_bytes[i] : 1);
        if (out[i].data == NULL) goto done;
    }
    if (lpfc_model_run(model, in, MODEL_NUM_INPUTS, out, MODEL_NUM_OUTPUTS) != LPFC_OK) {
        fprintf(stderr, "host: %s\n", lpfc_model_last_error(model));
        goto done;
    }
    for (i = 0; i < MODEL_NUM_OUTPUTS; ++i) {
        size_t count = out[i].size_bytes / lpfc_dtype_size(out[i].dtype);
        printf("output %d: %s [", i, lpfc_dtype_name(out[i].dtype));
        for (k = 0; k < out[i].rank; ++k) printf(k ? ", %lld" : "%lld", (long long)out[i].dims[k]);
        printf("] sum %.9g\n", sum_of(out[i].data, out[i].dtype, count));
        if (out_files[i] != NULL) {
            FILE *f = fopen(out_files[i], "wb");
            if (f == NULL || fwrite(out[i].data, 1, out[i].size_bytes, f) != out[i].size_bytes) {
                fprintf(stderr, "host: cannot write %s\n", out_files[i]);
                if (f) fclose(f);
                goto done;
            }
            fclose(f);
        }
    }
    status = 0;
done:
    for (i = 0; i < MODEL_NUM_INPUTS; ++i) free(in[i].data);
    for (i = 0; i < MODEL_NUM_OUTPUTS; ++i) free(out[i].data);
    lpfc_model_destroy(model);
    return status;
}
