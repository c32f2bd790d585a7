/*
 * lpfc_driver.c - run any lpfc model library from files, through its C API.
 *
 *   lpfc_driver --lib LIB.so [--info] [--threads N] [--repeat N] [--in FILE]... [--out FILE]...
 *
 * The driver is generic: it dlopen()s LIB.so and calls the lpfc C API (lpfc_runtime.h), so one
 * binary per architecture runs every model.  lpfc builds it next to a cross-compiled library
 * (libmodel.so -> libmodel-driver) and `lpfc run libmodel.so` / `lpfc.load` use it under
 * `qemu-aarch64 -L /usr/aarch64-linux-gnu` when this machine cannot load the library itself.
 * On a phone: adb push libmodel.so libmodel-driver /data/local/tmp, then run it there.
 *
 *   --info       print the model's tensors, one per line, and exit:
 *                  lpfc-driver 1
 *                  runtime <version>
 *                  arena <bytes>
 *                  input <index> x<name as hex> <dtype> <rank> <dim>...
 *                  output <index> x<name as hex> <dtype> <rank> <dim>...
 *   --in FILE    the raw bytes of the next input, in the model's input order (size must match);
 *                without any --in every input is zero-filled (a smoke test)
 *   --out FILE   write the next output's raw bytes to FILE, in the model's output order
 *   --threads N  threads for the run (0 or absent: every online processor)
 *   --repeat N   run N times (the outputs are those of the last run) and print "ms_per_run <t>"
 *   --profile N  after one warm-up run, run N times through lpfc_model_profile and print
 *                  run_ms <wall ms of run 1> ... <wall ms of run N>
 *                  kernel <index> x<the kernel's info line as hex> <seconds in run 1> ... <run N>
 *                (`lpfc calibrate --runner` reads this on a device; exit 2 when the library was
 *                built without profiling support)
 *
 * Each output is summarised on stdout (name, dtype, shape, sum).  Exit status: 0 on success,
 * 1 for a usage or file error, 2 when the library cannot be loaded, 3 when the model refuses the
 * run; the reason goes to stderr as one line starting with "lpfc-driver: ".
 */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lpfc_runtime.h"

#define MAX_FILES 256

/* The C API, looked up in the library with dlsym. */
typedef struct api {
    lpfc_status (*create)(lpfc_model **);
    void (*destroy)(lpfc_model *);
    size_t (*num_inputs)(const lpfc_model *);
    size_t (*num_outputs)(const lpfc_model *);
    lpfc_status (*input_info)(const lpfc_model *, size_t, lpfc_tensor_info *);
    lpfc_status (*output_info)(const lpfc_model *, size_t, lpfc_tensor_info *);
    size_t (*arena_bytes)(const lpfc_model *);
    lpfc_status (*set_threads)(lpfc_model *, int);
    lpfc_status (*run)(lpfc_model *, const lpfc_tensor *, size_t, lpfc_tensor *, size_t);
    const char *(*last_error)(const lpfc_model *);
    const char *(*status_name)(lpfc_status);
    const char *(*dtype_name)(lpfc_dtype);
    size_t (*dtype_size)(lpfc_dtype);
    const char *(*runtime_version)(void);
    lpfc_status (*profile)(lpfc_model *, const lpfc_tensor *, size_t, lpfc_tensor *, size_t, double *, size_t,
                           size_t *, const char **);   /* optional: NULL in a library without profiling */
} api;

static int fail(int code, const char *fmt, ...) {
    va_list ap;
    fputs("lpfc-driver: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

static int lookup(void *lib, const char *name, void **slot) {
    *slot = dlsym(lib, name);
    return *slot != NULL;
}

/* Fills `a` from `lib`; the (void **) stores are POSIX's way to turn dlsym's result into a function. */
static int bind_api(void *lib, api *a) {
    return lookup(lib, "lpfc_model_create", (void **)&a->create) &&
           lookup(lib, "lpfc_model_destroy", (void **)&a->destroy) &&
           lookup(lib, "lpfc_model_num_inputs", (void **)&a->num_inputs) &&
           lookup(lib, "lpfc_model_num_outputs", (void **)&a->num_outputs) &&
           lookup(lib, "lpfc_model_input_info", (void **)&a->input_info) &&
           lookup(lib, "lpfc_model_output_info", (void **)&a->output_info) &&
           lookup(lib, "lpfc_model_arena_bytes", (void **)&a->arena_bytes) &&
           lookup(lib, "lpfc_model_set_threads", (void **)&a->set_threads) &&
           lookup(lib, "lpfc_model_run", (void **)&a->run) &&
           lookup(lib, "lpfc_model_last_error", (void **)&a->last_error) &&
           lookup(lib, "lpfc_status_name", (void **)&a->status_name) &&
           lookup(lib, "lpfc_dtype_name", (void **)&a->dtype_name) &&
           lookup(lib, "lpfc_dtype_size", (void **)&a->dtype_size) &&
           lookup(lib, "lpfc_runtime_version", (void **)&a->runtime_version) &&
           (lookup(lib, "lpfc_model_profile", (void **)&a->profile), 1);
}

static void print_tensor_line(const char *kind, size_t index, const lpfc_tensor_info *t) {
    const unsigned char *p;
    int32_t k;
    printf("%s %lu x", kind, (unsigned long)index);
    for (p = (const unsigned char *)t->name; *p; ++p) printf("%02x", *p);
    printf(" %d %d", (int)t->dtype, (int)t->rank);
    for (k = 0; k < t->rank; ++k) printf(" %lld", (long long)t->dims[k]);
    printf("\n");
}

static int read_file(const char *path, void *data, size_t size) {
    FILE *f = fopen(path, "rb");
    size_t n;
    long end;
    if (f == NULL) return fail(1, "cannot open %s", path);
    n = fread(data, 1, size, f);
    end = (fseek(f, 0, SEEK_END) == 0) ? ftell(f) : -1;
    fclose(f);
    if (n != size || end != (long)size)
        return fail(1, "%s holds %ld bytes, the input needs %lu", path, end, (unsigned long)size);
    return 0;
}

static int write_file(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    int bad;
    if (f == NULL) return fail(1, "cannot write %s", path);
    bad = fwrite(data, 1, size, f) != size;
    bad |= fclose(f) != 0;
    return bad ? fail(1, "cannot write %s", path) : 0;
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
        default: break;
        }
    }
    return s;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int usage(const char *argv0) {
    return fail(1, "usage: %s --lib LIB.so [--info] [--threads N] [--repeat N | --profile N] [--in FILE]... "
                "[--out FILE]...", argv0);
}

/* --profile: `runs` timed runs after one warm-up; per kernel call one line with its time in every run. */
static int profile_runs(const api *a, lpfc_model *model, lpfc_tensor *in, size_t ni, lpfc_tensor *out, size_t no,
                        int runs) {
    enum { CAPACITY = 1 << 16 };
    double *seconds = (double *)calloc((size_t)runs * CAPACITY, sizeof *seconds);
    double *wall = (double *)calloc((size_t)runs, sizeof *wall);
    size_t count = 0, k;
    const char *info = "", *line;
    int r, status = 1;
    lpfc_status s;
    if (seconds == NULL || wall == NULL) { fail(1, "out of memory"); goto done; }
    for (r = -1; r < runs; ++r) {
        double t0 = now_ms();
        s = a->profile(model, in, ni, out, no, seconds + (size_t)(r < 0 ? 0 : r) * CAPACITY, CAPACITY, &count, &info);
        if (s != LPFC_OK) { status = fail(3, "%s: %s", a->status_name(s), a->last_error(model)); goto done; }
        if (r >= 0) wall[r] = now_ms() - t0;
    }
    if (count == 0 || info == NULL) { status = fail(2, "the library records no per-kernel times"); goto done; }
    if (count > CAPACITY) count = CAPACITY;
    printf("run_ms");
    for (r = 0; r < runs; ++r) printf(" %.6f", wall[r]);
    printf("\n");
    line = info;
    for (k = 0; k < count; ++k) {
        printf("kernel %lu x", (unsigned long)k);
        for (; *line && *line != '\n'; ++line) printf("%02x", (unsigned char)*line);
        if (*line == '\n') ++line;
        for (r = 0; r < runs; ++r) printf(" %.9g", seconds[(size_t)r * CAPACITY + k]);
        printf("\n");
    }
    status = 0;
done:
    free(seconds);
    free(wall);
    return status;
}

int main(int argc, char **argv) {
    const char *lib_path = NULL, *in_files[MAX_FILES], *out_files[MAX_FILES];
    int info = 0, threads = 0, repeat = 1, profile = 0, n_in = 0, n_out = 0, status = 1, i, r;
    size_t k, ni = 0, no = 0;
    void *lib;
    api a;
    lpfc_model *model = NULL;
    lpfc_tensor *in = NULL, *out = NULL;
    lpfc_tensor_info t;
    lpfc_status s;
    double t0, t1;

    for (i = 1; i < argc; ++i) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(opt, "--info") == 0) { info = 1; continue; }
        if (val == NULL) return usage(argv[0]);
        ++i;
        if (strcmp(opt, "--lib") == 0) lib_path = val;
        else if (strcmp(opt, "--threads") == 0) threads = atoi(val);
        else if (strcmp(opt, "--repeat") == 0) repeat = atoi(val);
        else if (strcmp(opt, "--profile") == 0) profile = atoi(val);
        else if (strcmp(opt, "--in") == 0 && n_in < MAX_FILES) in_files[n_in++] = val;
        else if (strcmp(opt, "--out") == 0 && n_out < MAX_FILES) out_files[n_out++] = val;
        else return usage(argv[0]);
    }
    if (lib_path == NULL || threads < 0 || repeat < 1 || profile < 0 || profile > 10000) return usage(argv[0]);

    lib = dlopen(lib_path, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) return fail(2, "cannot load %s: %s", lib_path, dlerror());
    if (!bind_api(lib, &a)) return fail(2, "%s is not an lpfc model library (no lpfc C API)", lib_path);
    if (a.create(&model) != LPFC_OK) return fail(2, "cannot create the model in %s", lib_path);
    ni = a.num_inputs(model);
    no = a.num_outputs(model);

    if (info) {
        printf("lpfc-driver 1\nruntime %s\narena %lu\n", a.runtime_version(), (unsigned long)a.arena_bytes(model));
        for (k = 0; k < ni; ++k) {
            if (a.input_info(model, k, &t) != LPFC_OK) goto done;
            print_tensor_line("input", k, &t);
        }
        for (k = 0; k < no; ++k) {
            if (a.output_info(model, k, &t) != LPFC_OK) goto done;
            print_tensor_line("output", k, &t);
        }
        status = 0;
        goto done;
    }
    if (n_in != 0 && (size_t)n_in != ni) {
        fail(1, "%d --in files given, the model has %lu inputs", n_in, (unsigned long)ni);
        goto done;
    }
    if ((size_t)n_out > no) {
        fail(1, "%d --out files given, the model has %lu outputs", n_out, (unsigned long)no);
        goto done;
    }
    in = (lpfc_tensor *)calloc(ni + 1, sizeof *in);
    out = (lpfc_tensor *)calloc(no + 1, sizeof *out);
    if (in == NULL || out == NULL) { fail(1, "out of memory"); goto done; }
    for (k = 0; k < ni; ++k) {
        a.input_info(model, k, &t);
        in[k].name = t.name; in[k].dtype = t.dtype; in[k].rank = t.rank; in[k].dims = t.dims;
        in[k].size_bytes = t.size_bytes;
        in[k].data = calloc(t.size_bytes + 1, 1);
        if (in[k].data == NULL) { fail(1, "out of memory"); goto done; }
        if (n_in && read_file(in_files[k], in[k].data, t.size_bytes) != 0) goto done;
    }
    for (k = 0; k < no; ++k) {
        a.output_info(model, k, &t);
        out[k].name = t.name; out[k].dtype = t.dtype; out[k].rank = t.rank; out[k].dims = t.dims;
        out[k].size_bytes = t.size_bytes;
        out[k].data = calloc(t.size_bytes + 1, 1);
        if (out[k].data == NULL) { fail(1, "out of memory"); goto done; }
    }
    if (a.set_threads(model, threads) != LPFC_OK) { fail(1, "%s", a.last_error(model)); goto done; }
    if (profile) {
        if (a.profile == NULL) { status = fail(2, "%s was built without profiling support", lib_path); goto done; }
        status = profile_runs(&a, model, in, ni, out, no, profile);
        goto done;
    }

    t0 = now_ms();
    for (r = 0; r < repeat; ++r) {
        s = a.run(model, in, ni, out, no);
        if (s != LPFC_OK) {
            fail(3, "%s: %s", a.status_name(s), a.last_error(model));
            status = 3;
            goto done;
        }
    }
    t1 = now_ms();
    if (repeat > 1) printf("ms_per_run %.3f\n", (t1 - t0) / repeat);
    for (k = 0; k < no; ++k) {
        int32_t d;
        size_t count = out[k].size_bytes / a.dtype_size(out[k].dtype);
        printf("%s: %s [", out[k].name, a.dtype_name(out[k].dtype));
        for (d = 0; d < out[k].rank; ++d) printf("%s%lld", d ? ", " : "", (long long)out[k].dims[d]);
        printf("] sum %.6g\n", sum_of(out[k].data, out[k].dtype, count));
        if ((int)k < n_out && write_file(out_files[k], out[k].data, out[k].size_bytes) != 0) goto done;
    }
    status = 0;

done:
    if (in != NULL) for (k = 0; k < ni; ++k) free(in[k].data);
    if (out != NULL) for (k = 0; k < no; ++k) free(out[k].data);
    free(in);
    free(out);
    a.destroy(model);
    return status;
}
