/* lpfc_opencl.c - the opencl target's host glue: device selection, program build and binary cache,
 * buffers, launches.  See lpfc_opencl.h.  C99 + POSIX (mkdir, rename, getpid). */
#if !defined(_POSIX_C_SOURCE) || _POSIX_C_SOURCE < 200809L
#undef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <CL/cl.h>

#include "lpfc_opencl.h"

#define BUILD_OPTIONS "-cl-std=CL1.2"
#define MAX_DEVICES 64

struct lpfc_ocl {
    cl_context context;
    cl_command_queue queue;
    cl_program program;
    cl_kernel *kernels;
    size_t num_kernels;
    const char *const *kernel_names;
    cl_mem weights;
    cl_mem d;
    size_t device_bytes;
    char device_name[256];
    FILE *profile;      /* LPFC_OPENCL_PROFILE=file: per-launch times (each launch then waits for its kernel) */
    double *seconds;    /* per kernel */
    unsigned long *calls;
};

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* -- messages ---------------------------------------------------------------------------------- */

static const char *cl_error_name(cl_int e) {
    switch (e) {
    case CL_DEVICE_NOT_FOUND: return "CL_DEVICE_NOT_FOUND";
    case CL_DEVICE_NOT_AVAILABLE: return "CL_DEVICE_NOT_AVAILABLE";
    case CL_COMPILER_NOT_AVAILABLE: return "CL_COMPILER_NOT_AVAILABLE";
    case CL_MEM_OBJECT_ALLOCATION_FAILURE: return "CL_MEM_OBJECT_ALLOCATION_FAILURE";
    case CL_OUT_OF_RESOURCES: return "CL_OUT_OF_RESOURCES";
    case CL_OUT_OF_HOST_MEMORY: return "CL_OUT_OF_HOST_MEMORY";
    case CL_BUILD_PROGRAM_FAILURE: return "CL_BUILD_PROGRAM_FAILURE";
    case CL_MAP_FAILURE: return "CL_MAP_FAILURE";
    case CL_INVALID_VALUE: return "CL_INVALID_VALUE";
    case CL_INVALID_DEVICE: return "CL_INVALID_DEVICE";
    case CL_INVALID_BINARY: return "CL_INVALID_BINARY";
    case CL_INVALID_BUILD_OPTIONS: return "CL_INVALID_BUILD_OPTIONS";
    case CL_INVALID_PROGRAM_EXECUTABLE: return "CL_INVALID_PROGRAM_EXECUTABLE";
    case CL_INVALID_KERNEL_NAME: return "CL_INVALID_KERNEL_NAME";
    case CL_INVALID_KERNEL_ARGS: return "CL_INVALID_KERNEL_ARGS";
    case CL_INVALID_ARG_INDEX: return "CL_INVALID_ARG_INDEX";
    case CL_INVALID_ARG_VALUE: return "CL_INVALID_ARG_VALUE";
    case CL_INVALID_ARG_SIZE: return "CL_INVALID_ARG_SIZE";
    case CL_INVALID_WORK_DIMENSION: return "CL_INVALID_WORK_DIMENSION";
    case CL_INVALID_WORK_GROUP_SIZE: return "CL_INVALID_WORK_GROUP_SIZE";
    case CL_INVALID_WORK_ITEM_SIZE: return "CL_INVALID_WORK_ITEM_SIZE";
    case CL_INVALID_GLOBAL_WORK_SIZE: return "CL_INVALID_GLOBAL_WORK_SIZE";
    case CL_INVALID_BUFFER_SIZE: return "CL_INVALID_BUFFER_SIZE";
    case CL_INVALID_MEM_OBJECT: return "CL_INVALID_MEM_OBJECT";
    case CL_INVALID_COMMAND_QUEUE: return "CL_INVALID_COMMAND_QUEUE";
    case CL_INVALID_CONTEXT: return "CL_INVALID_CONTEXT";
    case CL_INVALID_PLATFORM: return "CL_INVALID_PLATFORM";
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR (no OpenCL driver is installed)";
    default: return "an OpenCL error";
    }
}

static void msg(char *error, size_t size, const char *format, ...) LPFC_PRINTF_LIKE(3, 4);
static void msg(char *error, size_t size, const char *format, ...) {
    va_list ap;
    if (error == NULL || size == 0) return;
    va_start(ap, format);
    vsnprintf(error, size, format, ap);
    va_end(ap);
}

static lpfc_status fail_cl(const lpfc_run_args *args, cl_int e, const char *what) {
    return lpfc_run_fail(args, LPFC_ERR_DEVICE, "OpenCL: %s failed: %s (%d)", what, cl_error_name(e), (int)e);
}

/* -- device selection -------------------------------------------------------------------------- */

/* Does `name` match `want` (an index equal to `index`, or a case-insensitive substring)? */
static int matches(const char *want, size_t index, const char *name) {
    char *end;
    unsigned long n;
    size_t i, j, lw = strlen(want), ln = strlen(name);
    if (*want == '\0') return 1;
    n = strtoul(want, &end, 10);
    if (*end == '\0') return n == index;
    for (i = 0; i + lw <= ln; ++i) {
        for (j = 0; j < lw; ++j)
            if (tolower((unsigned char)name[i + j]) != tolower((unsigned char)want[j])) break;
        if (j == lw) return 1;
    }
    return 0;
}

static lpfc_status select_device(cl_device_id *out, char *name, size_t name_size, char *error, size_t size) {
    cl_platform_id platforms[16];
    cl_uint np = 0, p, nd, k;
    cl_int e;
    const char *want_p = getenv("LPFC_OPENCL_PLATFORM"), *want_d = getenv("LPFC_OPENCL_DEVICE");
    char seen[512] = "";
    size_t pos = 0;
    if (want_p == NULL) want_p = "";
    if (want_d == NULL) want_d = "";
    e = clGetPlatformIDs(16, platforms, &np);
    if (e != CL_SUCCESS || np == 0) {
        msg(error, size, "no OpenCL platform found (%s); install an OpenCL driver, e.g. apt-get install "
            "pocl-opencl-icd", e != CL_SUCCESS ? cl_error_name(e) : "none installed");
        return LPFC_ERR_DEVICE;
    }
    for (p = 0; p < np; ++p) {
        cl_device_id devices[MAX_DEVICES];
        char pname[256] = "";
        clGetPlatformInfo(platforms[p], CL_PLATFORM_NAME, sizeof pname - 1, pname, NULL);
        if (!matches(want_p, p, pname)) continue;
        nd = 0;
        if (clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, MAX_DEVICES, devices, &nd) != CL_SUCCESS) nd = 0;
        for (k = 0; k < nd; ++k) {
            char dname[256] = "";
            clGetDeviceInfo(devices[k], CL_DEVICE_NAME, sizeof dname - 1, dname, NULL);
            if (pos < sizeof seen)
                pos += (size_t)snprintf(seen + pos, sizeof seen - pos, "%s[%u] %s: [%u] %s", pos ? "; " : "",
                                        (unsigned)p, pname, (unsigned)k, dname);
            if (matches(want_d, k, dname)) {
                *out = devices[k];
                snprintf(name, name_size, "%s: %s", pname, dname);
                return LPFC_OK;
            }
        }
    }
    msg(error, size, "no OpenCL device matches LPFC_OPENCL_PLATFORM='%s' LPFC_OPENCL_DEVICE='%s' (found: %s)",
        want_p, want_d, pos ? seen : "no devices");
    return LPFC_ERR_DEVICE;
}

/* -- the program binary cache ------------------------------------------------------------------ */

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = (const unsigned char *)data;
    size_t i;
    for (i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t hash_str(uint64_t h, const char *s) { return fnv1a(h, s, strlen(s) + 1); }

/* The cache file for this program on this device, or 0 when caching is off or no directory is found. */
static int cache_path(char *path, size_t size, cl_device_id dev, const char *source) {
    const char *dir = getenv("LPFC_OPENCL_CACHE_DIR"), *off = getenv("LPFC_OPENCL_CACHE");
    char base[1024], info[512];
    uint64_t h = 14695981039346656037ull;
    cl_platform_id platform;
    size_t i;
    int n;
    if (off != NULL && strcmp(off, "0") == 0) return 0;
    if (dir != NULL && *dir) {
        n = snprintf(base, sizeof base, "%s", dir);
    } else if ((dir = getenv("XDG_CACHE_HOME")) != NULL && *dir) {
        n = snprintf(base, sizeof base, "%s/lpfc/opencl", dir);
    } else if ((dir = getenv("HOME")) != NULL && *dir) {
        n = snprintf(base, sizeof base, "%s/.cache/lpfc/opencl", dir);
    } else {
        return 0;
    }
    if (n <= 0 || (size_t)n >= sizeof base) return 0;
    /* mkdir -p */
    for (i = 1; base[i]; ++i) {
        if (base[i] == '/') {
            base[i] = '\0';
            mkdir(base, 0755);
            base[i] = '/';
        }
    }
    if (mkdir(base, 0755) != 0 && errno != EEXIST) return 0;
    h = hash_str(h, source);
    h = hash_str(h, BUILD_OPTIONS);
    if (clGetDeviceInfo(dev, CL_DEVICE_PLATFORM, sizeof platform, &platform, NULL) == CL_SUCCESS) {
        info[0] = '\0';
        clGetPlatformInfo(platform, CL_PLATFORM_NAME, sizeof info - 1, info, NULL);
        h = hash_str(h, info);
        info[0] = '\0';
        clGetPlatformInfo(platform, CL_PLATFORM_VERSION, sizeof info - 1, info, NULL);
        h = hash_str(h, info);
    }
    info[0] = '\0';
    clGetDeviceInfo(dev, CL_DEVICE_NAME, sizeof info - 1, info, NULL);
    h = hash_str(h, info);
    info[0] = '\0';
    clGetDeviceInfo(dev, CL_DRIVER_VERSION, sizeof info - 1, info, NULL);
    h = hash_str(h, info);
    info[0] = '\0';
    clGetDeviceInfo(dev, CL_DEVICE_VERSION, sizeof info - 1, info, NULL);
    h = hash_str(h, info);
    n = snprintf(path, size, "%s/%016llx.bin", base, (unsigned long long)h);
    return n > 0 && (size_t)n < size;
}

static cl_program load_cached(cl_context ctx, cl_device_id dev, const char *path) {
    FILE *f = fopen(path, "rb");
    unsigned char *bin = NULL;
    long len;
    size_t n;
    cl_int status = 0, e;
    cl_program prog = NULL;
    const unsigned char *bins[1];
    if (f == NULL) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
        bin = (unsigned char *)malloc((size_t)len);
        if (bin != NULL && fread(bin, 1, (size_t)len, f) == (size_t)len) {
            n = (size_t)len;
            bins[0] = bin;
            prog = clCreateProgramWithBinary(ctx, 1, &dev, &n, bins, &status, &e);
            if (prog != NULL && (e != CL_SUCCESS || status != CL_SUCCESS ||
                                 clBuildProgram(prog, 1, &dev, BUILD_OPTIONS, NULL, NULL) != CL_SUCCESS)) {
                clReleaseProgram(prog);
                prog = NULL;
            }
        }
    }
    free(bin);
    fclose(f);
    return prog;
}

static void store_cached(cl_program prog, const char *path) {
    size_t len = 0;
    unsigned char *bin;
    unsigned char *bins[1];
    char tmp[1200];
    FILE *f;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof len, &len, NULL) != CL_SUCCESS || len == 0) return;
    bin = (unsigned char *)malloc(len);
    if (bin == NULL) return;
    bins[0] = bin;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) == CL_SUCCESS &&
        snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()) < (int)sizeof tmp) {
        f = fopen(tmp, "wb");
        if (f != NULL) {
            int ok = fwrite(bin, 1, len, f) == len;
            ok = (fclose(f) == 0) && ok;
            if (!ok || rename(tmp, path) != 0) remove(tmp); /* rename: readers never see half a file */
        }
    }
    free(bin);
}

/* The kernel whose source starts at or before `line`, for build errors. */
static const char *kernel_at(const lpfc_ocl_program *pr, long line) {
    size_t i;
    const char *name = NULL;
    for (i = 0; i < pr->num_kernels; ++i)
        if (pr->kernel_lines[i] <= line) name = pr->kernel_names[i];
    return name;
}

/* The first "<...>:LINE:" in a build log. */
static long first_line(const char *log) {
    const char *p;
    for (p = log; *p; ++p) {
        if (*p == ':' && isdigit((unsigned char)p[1])) {
            char *end;
            long v = strtol(p + 1, &end, 10);
            if (*end == ':') return v;
        }
    }
    return -1;
}

static lpfc_status build_program(lpfc_ocl *o, const lpfc_ocl_program *pr, cl_device_id dev, char *error,
                                 size_t size) {
    char path[1100];
    int cached = cache_path(path, sizeof path, dev, pr->source);
    cl_int e;
    const char *src = pr->source;
    if (cached) o->program = load_cached(o->context, dev, path);
    if (o->program != NULL) return LPFC_OK;
    o->program = clCreateProgramWithSource(o->context, 1, &src, NULL, &e);
    if (o->program == NULL || e != CL_SUCCESS) {
        msg(error, size, "OpenCL: clCreateProgramWithSource failed: %s", cl_error_name(e));
        return LPFC_ERR_DEVICE;
    }
    e = clBuildProgram(o->program, 1, &dev, BUILD_OPTIONS, NULL, NULL);
    if (e != CL_SUCCESS) {
        char log[2048] = "";
        size_t n = 0;
        const char *kernel;
        clGetProgramBuildInfo(o->program, dev, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, &n);
        log[sizeof log - 1] = '\0';
        kernel = kernel_at(pr, first_line(log));
        msg(error, size, "OpenCL: building the program for %s failed (%s)%s%s; build log:\n%s", o->device_name,
            cl_error_name(e), kernel ? " in kernel " : "", kernel ? kernel : "", log);
        return LPFC_ERR_DEVICE;
    }
    if (cached) store_cached(o->program, path);
    return LPFC_OK;
}

/* -- create / destroy -------------------------------------------------------------------------- */

lpfc_status lpfc_ocl_create(const lpfc_ocl_program *pr, lpfc_ocl **out, char *error, size_t size) {
    lpfc_ocl *o;
    cl_device_id dev;
    cl_int e;
    size_t i;
    lpfc_status s;
    *out = NULL;
    o = (lpfc_ocl *)calloc(1, sizeof *o);
    if (o == NULL) {
        msg(error, size, "out of memory setting up OpenCL");
        return LPFC_ERR_OUT_OF_MEMORY;
    }
    s = select_device(&dev, o->device_name, sizeof o->device_name, error, size);
    if (s != LPFC_OK) goto fail;
    s = LPFC_ERR_DEVICE;
    o->context = clCreateContext(NULL, 1, &dev, NULL, NULL, &e);
    if (o->context == NULL) {
        msg(error, size, "OpenCL: clCreateContext for %s failed: %s", o->device_name, cl_error_name(e));
        goto fail;
    }
    o->queue = clCreateCommandQueue(o->context, dev, 0, &e); /* in order */
    if (o->queue == NULL) {
        msg(error, size, "OpenCL: clCreateCommandQueue for %s failed: %s", o->device_name, cl_error_name(e));
        goto fail;
    }
    s = build_program(o, pr, dev, error, size);
    if (s != LPFC_OK) goto fail;
    s = LPFC_ERR_DEVICE;
    o->kernels = (cl_kernel *)calloc(pr->num_kernels ? pr->num_kernels : 1, sizeof *o->kernels);
    if (o->kernels == NULL) {
        s = LPFC_ERR_OUT_OF_MEMORY;
        msg(error, size, "out of memory setting up OpenCL");
        goto fail;
    }
    o->num_kernels = pr->num_kernels;
    o->kernel_names = pr->kernel_names;
    for (i = 0; i < pr->num_kernels; ++i) {
        o->kernels[i] = clCreateKernel(o->program, pr->kernel_names[i], &e);
        if (o->kernels[i] == NULL) {
            msg(error, size, "OpenCL: creating kernel %s failed: %s", pr->kernel_names[i], cl_error_name(e));
            goto fail;
        }
    }
    /* The weights, uploaded once; D: the arena and the input/output slots (host-mappable). */
    o->weights = clCreateBuffer(o->context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                                pr->weights_bytes ? pr->weights_bytes : 1, (void *)pr->weights, &e);
    if (o->weights == NULL) {
        msg(error, size, "OpenCL: uploading %lu bytes of weights to %s failed: %s",
            (unsigned long)pr->weights_bytes, o->device_name, cl_error_name(e));
        goto fail;
    }
    o->device_bytes = pr->device_bytes ? pr->device_bytes : 64;
    o->d = clCreateBuffer(o->context, CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR, o->device_bytes, NULL, &e);
    if (o->d == NULL) {
        msg(error, size, "OpenCL: allocating the %lu-byte device arena on %s failed: %s",
            (unsigned long)o->device_bytes, o->device_name, cl_error_name(e));
        goto fail;
    }
    if (getenv("LPFC_OPENCL_PROFILE") != NULL && *getenv("LPFC_OPENCL_PROFILE")) {
        o->seconds = (double *)calloc(o->num_kernels + 1, sizeof *o->seconds);
        o->calls = (unsigned long *)calloc(o->num_kernels + 1, sizeof *o->calls);
        if (o->seconds != NULL && o->calls != NULL) o->profile = fopen(getenv("LPFC_OPENCL_PROFILE"), "a");
    }
    *out = o;
    return LPFC_OK;
fail:
    lpfc_ocl_destroy(o);
    return s;
}

void lpfc_ocl_destroy(lpfc_ocl *o) {
    size_t i;
    if (o == NULL) return;
    if (o->queue) clFinish(o->queue);
    if (o->profile != NULL) {
        for (i = 0; i < o->num_kernels; ++i)
            fprintf(o->profile, "%s\t%lu\t%.6f\n", o->kernel_names[i], o->calls[i], o->seconds[i]);
        fclose(o->profile);
    }
    free(o->seconds);
    free(o->calls);
    for (i = 0; o->kernels && i < o->num_kernels; ++i)
        if (o->kernels[i]) clReleaseKernel(o->kernels[i]);
    free(o->kernels);
    if (o->d) clReleaseMemObject(o->d);
    if (o->weights) clReleaseMemObject(o->weights);
    if (o->program) clReleaseProgram(o->program);
    if (o->queue) clReleaseCommandQueue(o->queue);
    if (o->context) clReleaseContext(o->context);
    free(o);
}

/* -- commands ---------------------------------------------------------------------------------- */

lpfc_status lpfc_ocl_launch(const lpfc_run_args *args, size_t kernel, size_t num_args, const lpfc_ocl_arg *argv,
                            unsigned dims, const size_t *global, const size_t *local) {
    lpfc_ocl *o = (lpfc_ocl *)args->device;
    cl_kernel k = o->kernels[kernel];
    cl_int e = CL_SUCCESS;
    size_t i;
    for (i = 0; i < num_args && e == CL_SUCCESS; ++i) {
        cl_mem m = argv[i].region == LPFC_OCL_W ? o->weights : o->d;
        cl_uint off = (cl_uint)argv[i].offset;
        e = clSetKernelArg(k, (cl_uint)(2 * i), sizeof m, &m);
        if (e == CL_SUCCESS) e = clSetKernelArg(k, (cl_uint)(2 * i + 1), sizeof off, &off);
    }
    double t0 = o->profile != NULL ? now_s() : 0.0;
    if (e == CL_SUCCESS) e = clEnqueueNDRangeKernel(o->queue, k, dims, NULL, global, local, 0, NULL, NULL);
    if (e == CL_SUCCESS && o->profile != NULL) {
        e = clFinish(o->queue);
        o->seconds[kernel] += now_s() - t0;
        o->calls[kernel] += 1;
    }
    if (e != CL_SUCCESS)
        return lpfc_run_fail(args, LPFC_ERR_DEVICE, "OpenCL: launching kernel %s on %s failed: %s (%d)",
                             o->kernel_names[kernel], o->device_name, cl_error_name(e), (int)e);
    return LPFC_OK;
}

lpfc_status lpfc_ocl_write(const lpfc_run_args *args, size_t offset, const void *src, size_t bytes) {
    lpfc_ocl *o = (lpfc_ocl *)args->device;
    cl_int e;
    if (bytes == 0) return LPFC_OK;
    /* blocking: the caller's buffer may change as soon as lpfc_model_run returns */
    e = clEnqueueWriteBuffer(o->queue, o->d, CL_TRUE, offset, bytes, src, 0, NULL, NULL);
    return e == CL_SUCCESS ? LPFC_OK : fail_cl(args, e, "writing an input to the device");
}

lpfc_status lpfc_ocl_read(const lpfc_run_args *args, size_t offset, void *dst, size_t bytes, int blocking) {
    lpfc_ocl *o = (lpfc_ocl *)args->device;
    cl_int e;
    if (bytes == 0) return blocking ? (clFinish(o->queue) == CL_SUCCESS ? LPFC_OK : LPFC_ERR_DEVICE) : LPFC_OK;
    e = clEnqueueReadBuffer(o->queue, o->d, blocking ? CL_TRUE : CL_FALSE, offset, bytes, dst, 0, NULL, NULL);
    return e == CL_SUCCESS ? LPFC_OK : fail_cl(args, e, "reading an output from the device");
}

lpfc_status lpfc_ocl_copy(const lpfc_run_args *args, lpfc_ocl_region src, size_t src_offset, size_t dst_offset,
                          size_t bytes) {
    lpfc_ocl *o = (lpfc_ocl *)args->device;
    cl_int e;
    if (bytes == 0) return LPFC_OK;
    e = clEnqueueCopyBuffer(o->queue, src == LPFC_OCL_W ? o->weights : o->d, o->d, src_offset, dst_offset, bytes,
                            0, NULL, NULL);
    return e == CL_SUCCESS ? LPFC_OK : fail_cl(args, e, "copying an output on the device");
}

unsigned char *lpfc_ocl_map(const lpfc_run_args *args) {
    lpfc_ocl *o = (lpfc_ocl *)args->device;
    cl_int e;
    void *p = clEnqueueMapBuffer(o->queue, o->d, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, 0, o->device_bytes, 0, NULL,
                                 NULL, &e);
    if (p == NULL || e != CL_SUCCESS) {
        fail_cl(args, e, "mapping the device arena for a host kernel");
        return NULL;
    }
    return (unsigned char *)p;
}

lpfc_status lpfc_ocl_unmap(const lpfc_run_args *args, unsigned char *mapped) {
    lpfc_ocl *o = (lpfc_ocl *)args->device;
    cl_int e = clEnqueueUnmapMemObject(o->queue, o->d, mapped, 0, NULL, NULL);
    return e == CL_SUCCESS ? LPFC_OK : fail_cl(args, e, "unmapping the device arena after a host kernel");
}
