/* util.c - status and dtype names, message formatting, the default thread count. */
#if !defined(_POSIX_C_SOURCE) || _POSIX_C_SOURCE < 200112L
#undef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200112L /* sysconf under -std=c99 */
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

#include "lpfc_internal.h"

const char *lpfc_status_name(lpfc_status status) {
    switch (status) {
    case LPFC_OK: return "LPFC_OK";
    case LPFC_ERR_NULL_POINTER: return "LPFC_ERR_NULL_POINTER";
    case LPFC_ERR_INVALID_ARGUMENT: return "LPFC_ERR_INVALID_ARGUMENT";
    case LPFC_ERR_INDEX: return "LPFC_ERR_INDEX";
    case LPFC_ERR_UNKNOWN_NAME: return "LPFC_ERR_UNKNOWN_NAME";
    case LPFC_ERR_MISSING: return "LPFC_ERR_MISSING";
    case LPFC_ERR_DUPLICATE: return "LPFC_ERR_DUPLICATE";
    case LPFC_ERR_DTYPE: return "LPFC_ERR_DTYPE";
    case LPFC_ERR_SHAPE: return "LPFC_ERR_SHAPE";
    case LPFC_ERR_BUFFER_SIZE: return "LPFC_ERR_BUFFER_SIZE";
    case LPFC_ERR_ALIGNMENT: return "LPFC_ERR_ALIGNMENT";
    case LPFC_ERR_ALIASING: return "LPFC_ERR_ALIASING";
    case LPFC_ERR_OUT_OF_MEMORY: return "LPFC_ERR_OUT_OF_MEMORY";
    case LPFC_ERR_INVALID_MODEL: return "LPFC_ERR_INVALID_MODEL";
    case LPFC_ERR_EXECUTION: return "LPFC_ERR_EXECUTION";
    case LPFC_ERR_DEVICE: return "LPFC_ERR_DEVICE";
    }
    return "LPFC_ERR_UNKNOWN_STATUS";
}

const char *lpfc_dtype_name(lpfc_dtype dtype) {
    switch (dtype) {
    case LPFC_DTYPE_FLOAT: return "float32";
    case LPFC_DTYPE_UINT8: return "uint8";
    case LPFC_DTYPE_INT8: return "int8";
    case LPFC_DTYPE_UINT16: return "uint16";
    case LPFC_DTYPE_INT16: return "int16";
    case LPFC_DTYPE_INT32: return "int32";
    case LPFC_DTYPE_INT64: return "int64";
    case LPFC_DTYPE_BOOL: return "bool";
    case LPFC_DTYPE_FLOAT16: return "float16";
    case LPFC_DTYPE_DOUBLE: return "float64";
    case LPFC_DTYPE_UINT32: return "uint32";
    case LPFC_DTYPE_UINT64: return "uint64";
    }
    return "unknown";
}

size_t lpfc_dtype_size(lpfc_dtype dtype) {
    switch (dtype) {
    case LPFC_DTYPE_UINT8:
    case LPFC_DTYPE_INT8:
    case LPFC_DTYPE_BOOL: return 1;
    case LPFC_DTYPE_UINT16:
    case LPFC_DTYPE_INT16:
    case LPFC_DTYPE_FLOAT16: return 2;
    case LPFC_DTYPE_FLOAT:
    case LPFC_DTYPE_INT32:
    case LPFC_DTYPE_UINT32: return 4;
    case LPFC_DTYPE_INT64:
    case LPFC_DTYPE_DOUBLE:
    case LPFC_DTYPE_UINT64: return 8;
    }
    return 0;
}

const char *lpfc_runtime_version(void) { return LPFC_RUNTIME_VERSION; }

void lpfc_vappend(char *buf, size_t size, size_t *pos, const char *format, va_list ap) {
    int n;
    if (buf == NULL || size == 0 || *pos >= size) return;
    n = vsnprintf(buf + *pos, size - *pos, format, ap);
    if (n < 0) {
        buf[*pos] = '\0';
        return;
    }
    *pos = ((size_t)n >= size - *pos) ? size - 1 : *pos + (size_t)n;
}

void lpfc_append(char *buf, size_t size, size_t *pos, const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    lpfc_vappend(buf, size, pos, format, ap);
    va_end(ap);
}

/* Names come from models and callers; show at most this many bytes of one. */
#define LPFC_NAME_SHOWN 96

void lpfc_append_name(char *buf, size_t size, size_t *pos, const char *name) {
    size_t i;
    if (name == NULL) {
        lpfc_append(buf, size, pos, "(unnamed)");
        return;
    }
    lpfc_append(buf, size, pos, "'");
    for (i = 0; name[i] != '\0'; ++i) {
        unsigned char c = (unsigned char)name[i];
        if (i == LPFC_NAME_SHOWN) {
            lpfc_append(buf, size, pos, "...");
            break;
        }
        if (c == '\'' || c == '\\') lpfc_append(buf, size, pos, "\\%c", (char)c);
        else if (c >= 0x20 && c < 0x7f) lpfc_append(buf, size, pos, "%c", (char)c);
        else lpfc_append(buf, size, pos, "\\x%02x", (unsigned)c);
    }
    lpfc_append(buf, size, pos, "'");
}

void lpfc_append_shape(char *buf, size_t size, size_t *pos, int32_t rank, const int64_t *dims) {
    int32_t i;
    if (rank < 0 || rank > LPFC_MAX_RANK || (rank > 0 && dims == NULL)) {
        lpfc_append(buf, size, pos, "rank %ld", (long)rank);
        return;
    }
    lpfc_append(buf, size, pos, "[");
    for (i = 0; i < rank; ++i) lpfc_append(buf, size, pos, i ? ", %lld" : "%lld", (long long)dims[i]);
    lpfc_append(buf, size, pos, "]");
}

void lpfc_append_dtype(char *buf, size_t size, size_t *pos, lpfc_dtype dtype) {
    if (lpfc_dtype_size(dtype) == 0) lpfc_append(buf, size, pos, "dtype %d (unknown)", (int)dtype);
    else lpfc_append(buf, size, pos, "%s", lpfc_dtype_name(dtype));
}

int lpfc_default_threads(void) {
#if defined(_SC_NPROCESSORS_ONLN)
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n >= 1) return n > 1024 ? 1024 : (int)n;
#endif
    return 1;
}

lpfc_status lpfc_fail(lpfc_model *model, lpfc_status status, const char *format, ...) {
    va_list ap;
    size_t pos = 0;
    if (model == NULL) return status;
    va_start(ap, format);
    lpfc_vappend(model->error, sizeof model->error, &pos, format, ap);
    va_end(ap);
    return status;
}

lpfc_status lpfc_run_fail(const lpfc_run_args *args, lpfc_status status, const char *format, ...) {
    va_list ap;
    size_t pos = 0;
    if (args == NULL || args->error == NULL) return status;
    va_start(ap, format);
    lpfc_vappend(args->error, args->error_size, &pos, format, ap);
    va_end(ap);
    return status;
}

/* Profiles read CLOCK_MONOTONIC; LPFC_PROFILE_CLOCK=thread reads the calling thread's CPU time instead
 * (meaningful with one thread only: on a shared machine a time slice lost to another job does not count). */
double lpfc_clock_seconds(void) {
    static int which = -1; /* -1: not read yet; a benign race (every thread computes the same value) */
    struct timespec ts;
    if (which < 0) {
        const char *e = getenv("LPFC_PROFILE_CLOCK");
        which = (e != NULL && strcmp(e, "thread") == 0) ? 1 : 0;
    }
    clock_gettime(which ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
