/* lpfc_internal.h - what the runtime's source files share; not installed. */
#ifndef LPFC_INTERNAL_H
#define LPFC_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>

#include "lpfc_model_desc.h"

#define LPFC_ERROR_SIZE 1024

struct lpfc_model {
    const lpfc_model_desc *desc;
    void *arena_block;         /* what malloc returned */
    unsigned char *arena;      /* arena_block, aligned up to LPFC_ARENA_ALIGNMENT */
    int num_threads;           /* >= 1 */
    void *device;              /* desc->device's state once prepared, else NULL */
    /* Tables lpfc_model_run fills, allocated at create so that a run allocates nothing. */
    const void **input_ptrs;   /* num_inputs */
    void **output_ptrs;        /* num_outputs */
    size_t *input_given;       /* num_inputs: 1 + position in the caller's array, 0 = not given */
    size_t *output_given;      /* num_outputs */
    char error[LPFC_ERROR_SIZE];
};

/* snprintf into buf at *pos, clamping at size; never overflows, always terminates. */
LPFC_INTERNAL void lpfc_append(char *buf, size_t size, size_t *pos, const char *format, ...) LPFC_PRINTF_LIKE(4, 5);
LPFC_INTERNAL void lpfc_vappend(char *buf, size_t size, size_t *pos, const char *format, va_list ap);

/* Appends 'name' quoted, with non-printable bytes as \xNN and long names cut with "...". */
LPFC_INTERNAL void lpfc_append_name(char *buf, size_t size, size_t *pos, const char *name);

/* Appends "[d0, d1, ...]" (or "rank N" when rank is out of range / dims NULL). */
LPFC_INTERNAL void lpfc_append_shape(char *buf, size_t size, size_t *pos, int32_t rank, const int64_t *dims);

/* Appends "the dtype name" or "dtype N (unknown)". */
LPFC_INTERNAL void lpfc_append_dtype(char *buf, size_t size, size_t *pos, lpfc_dtype dtype);

/* Returns the default thread count: online processors, at least 1. */
LPFC_INTERNAL int lpfc_default_threads(void);

/* Sets model->error from a format and returns status. */
LPFC_INTERNAL lpfc_status lpfc_fail(lpfc_model *model, lpfc_status status, const char *format, ...)
    LPFC_PRINTF_LIKE(3, 4);

/* Checks a descriptor; on failure writes why into error. */
LPFC_INTERNAL lpfc_status lpfc_check_desc(const lpfc_model_desc *desc, char *error, size_t error_size);

#endif /* LPFC_INTERNAL_H */
