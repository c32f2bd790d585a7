/*
 * lpfc_opencl.h - the OpenCL host glue of the opencl target (lpfc_opencl.c), for generated code.
 *
 * Compiled into a model library only for the opencl target (with -lOpenCL).  One lpfc_ocl per
 * model handle holds: the context of the selected device, one in-order command queue, the program
 * (built from the generated OpenCL C once, then loaded from the binary cache), its kernels, the
 * weights (uploaded once, read-only) and one device buffer "D" holding the arena and a slot for
 * every model input and output, at offsets the code generator fixed.  Tensors are passed to
 * kernels as (buffer, byte offset) pairs: two kernel arguments each.
 *
 * Device selection: LPFC_OPENCL_PLATFORM and LPFC_OPENCL_DEVICE, each an index (0, 1, ...) or a
 * case-insensitive part of the name; default the first device of the first platform that has one.
 * Program cache: $LPFC_OPENCL_CACHE_DIR, else $XDG_CACHE_HOME/lpfc/opencl, else
 * $HOME/.cache/lpfc/opencl; one file per hash of (source, options, platform, device, driver);
 * LPFC_OPENCL_CACHE=0 turns it off.  LPFC_OPENCL_PROFILE=FILE: every launch waits for its kernel and
 * the time per kernel is appended to FILE when the handle is destroyed (a developer tool).
 */
#ifndef LPFC_OPENCL_H
#define LPFC_OPENCL_H

#include <stddef.h>

#include "lpfc_model_desc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lpfc_ocl lpfc_ocl;

/* Where a kernel argument lives. */
typedef enum lpfc_ocl_region {
    LPFC_OCL_D = 0, /* the device buffer: arena + input and output slots */
    LPFC_OCL_W = 1  /* the weights */
} lpfc_ocl_region;

typedef struct lpfc_ocl_arg {
    lpfc_ocl_region region;
    size_t offset; /* bytes */
} lpfc_ocl_arg;

/* What the generated code knows about its program. */
typedef struct lpfc_ocl_program {
    const char *source;              /* OpenCL C, NUL-terminated */
    size_t num_kernels;
    const char *const *kernel_names; /* num_kernels */
    const int *kernel_lines;         /* first source line of each kernel (to name it in build errors) */
    const unsigned char *weights;
    size_t weights_bytes;
    size_t device_bytes;             /* the D buffer */
} lpfc_ocl_program;

LPFC_INTERNAL lpfc_status lpfc_ocl_create(const lpfc_ocl_program *program, lpfc_ocl **out, char *error,
                                          size_t error_size);
LPFC_INTERNAL void lpfc_ocl_destroy(lpfc_ocl *ocl);

/* Enqueues kernel `kernel` with `num_args` tensor arguments on an NDRange of `dims` dimensions. */
LPFC_INTERNAL lpfc_status lpfc_ocl_launch(const lpfc_run_args *args, size_t kernel, size_t num_args,
                                          const lpfc_ocl_arg *argv, unsigned dims, const size_t *global,
                                          const size_t *local);
/* Host <-> D copies (the write does not block; the read blocks when `blocking`). */
LPFC_INTERNAL lpfc_status lpfc_ocl_write(const lpfc_run_args *args, size_t offset, const void *src, size_t bytes);
LPFC_INTERNAL lpfc_status lpfc_ocl_read(const lpfc_run_args *args, size_t offset, void *dst, size_t bytes,
                                        int blocking);
LPFC_INTERNAL lpfc_status lpfc_ocl_copy(const lpfc_run_args *args, lpfc_ocl_region src, size_t src_offset,
                                        size_t dst_offset, size_t bytes);
/* Maps D for a kernel that runs on the host (blocking; waits for the queue); NULL on failure
 * (the message is in args->error).  Unmap before the next launch. */
LPFC_INTERNAL unsigned char *lpfc_ocl_map(const lpfc_run_args *args);
LPFC_INTERNAL lpfc_status lpfc_ocl_unmap(const lpfc_run_args *args, unsigned char *mapped);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* LPFC_OPENCL_H */
