/*
 * lpfc_runtime.h - the C API of a model library built by lpfc.
 *
 * Every library `lpfc compile` produces (libmodel.so) holds one model: its
 * generated kernels, its weights and this runtime.  A host program uses it so:
 *
 *     lpfc_model* m = NULL;
 *     if (lpfc_model_create(&m) != LPFC_OK) { ...out of memory... }
 *     int64_t dims[2] = {1, 128};
 *     lpfc_tensor in[2] = {
 *         {"input_ids",      LPFC_DTYPE_INT64, 2, dims, ids,  sizeof ids},
 *         {"attention_mask", LPFC_DTYPE_INT64, 2, dims, mask, sizeof mask},
 *     };
 *     int64_t odims[3] = {1, 128, 384};
 *     lpfc_tensor out[1] = {{"last_hidden_state", LPFC_DTYPE_FLOAT, 3, odims, hidden, sizeof hidden}};
 *     lpfc_status s = lpfc_model_run(m, in, 2, out, 1);
 *     if (s != LPFC_OK) fprintf(stderr, "%s\n", lpfc_model_last_error(m));
 *     lpfc_model_destroy(m);
 *
 * Errors.  Every function that can fail returns an lpfc_status; LPFC_OK is 0.
 * lpfc_model_run and lpfc_model_set_threads also leave a message naming the
 * tensor and what was expected, read with lpfc_model_last_error().  Misuse
 * (NULL pointers, unknown or missing tensors, wrong dtype, shape or buffer
 * size, overlapping outputs) is reported, never undefined behaviour.  The
 * runtime writes nothing to stdout or stderr and never aborts.
 *
 * Memory.  lpfc_model_create allocates everything the model needs, once: the
 * arena that holds the intermediate tensors (its size is fixed at compile time
 * by a static memory plan) and a few small tables.  lpfc_model_run allocates
 * nothing.  Weights live in the library's read-only data and are shared by all
 * handles.  Outputs are written straight into the caller's buffers.
 *
 * Threads.  A handle runs one inference at a time: do not call lpfc_model_run
 * or lpfc_model_set_threads on the same handle from two threads at once.  The
 * query functions (num_inputs, input_info, find_input, ...) only read data
 * that never changes and may be called from any thread at any time.  Different
 * handles are independent: create one handle per thread for concurrent
 * inference (each has its own arena; the weights are shared).
 * lpfc_model_set_threads sets how many worker threads one run may use.
 */
#ifndef LPFC_RUNTIME_H
#define LPFC_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define LPFC_API __attribute__((visibility("default")))
#else
#define LPFC_API
#endif

/* The version of the runtime and of the descriptor layout that generated code fills in. */
#define LPFC_RUNTIME_VERSION "0.1.0"
#define LPFC_ABI_VERSION 2u

/* The largest rank a model tensor may have. */
#define LPFC_MAX_RANK 8

/* Status codes.  New codes may be added; treat any non-zero value as failure. */
typedef enum lpfc_status {
    LPFC_OK = 0,
    LPFC_ERR_NULL_POINTER = 1,     /* a required pointer argument is NULL */
    LPFC_ERR_INVALID_ARGUMENT = 2, /* an argument is out of its range (negative thread count, ...) */
    LPFC_ERR_INDEX = 3,            /* an input/output index is >= the count */
    LPFC_ERR_UNKNOWN_NAME = 4,     /* a tensor is named that the model does not have */
    LPFC_ERR_MISSING = 5,          /* a model input or output was not given */
    LPFC_ERR_DUPLICATE = 6,        /* a model input or output was given twice */
    LPFC_ERR_DTYPE = 7,            /* a tensor's dtype differs from the model's */
    LPFC_ERR_SHAPE = 8,            /* a tensor's rank or dimensions differ from the model's */
    LPFC_ERR_BUFFER_SIZE = 9,      /* a tensor's size_bytes is smaller than its shape needs */
    LPFC_ERR_ALIGNMENT = 10,       /* a tensor's data is not aligned to its element size */
    LPFC_ERR_ALIASING = 11,        /* an output buffer overlaps an input or another output */
    LPFC_ERR_OUT_OF_MEMORY = 12,   /* allocation failed at create */
    LPFC_ERR_INVALID_MODEL = 13,   /* the model descriptor is malformed or from another ABI version */
    LPFC_ERR_EXECUTION = 14,       /* the model failed on this data (e.g. a gather index out of range) */
    LPFC_ERR_DEVICE = 15           /* the accelerator (OpenCL) could not be set up or failed a command */
} lpfc_status;

/* Element types.  The values are ONNX's TensorProto.DataType numbers. */
typedef enum lpfc_dtype {
    LPFC_DTYPE_FLOAT = 1,    /* float32 */
    LPFC_DTYPE_UINT8 = 2,
    LPFC_DTYPE_INT8 = 3,
    LPFC_DTYPE_UINT16 = 4,
    LPFC_DTYPE_INT16 = 5,
    LPFC_DTYPE_INT32 = 6,
    LPFC_DTYPE_INT64 = 7,
    LPFC_DTYPE_BOOL = 9,     /* one byte, 0 or 1 */
    LPFC_DTYPE_FLOAT16 = 10, /* IEEE half, stored as uint16_t */
    LPFC_DTYPE_DOUBLE = 11,  /* float64 */
    LPFC_DTYPE_UINT32 = 12,
    LPFC_DTYPE_UINT64 = 13
} lpfc_dtype;

/* A tensor the caller passes to lpfc_model_run: dense, row-major (C order).
 * name: the model's tensor name, or NULL to mean "the model tensor at this
 *       position" (the i-th element of the array is the model's i-th input).
 * data: for inputs the runtime only reads it (it is not const so that one
 *       struct serves inputs and outputs); may be NULL only when the tensor
 *       has no elements.
 * size_bytes: the size of the buffer at data; at least the shape's bytes. */
typedef struct lpfc_tensor {
    const char *name;
    lpfc_dtype dtype;
    int32_t rank;
    const int64_t *dims; /* rank entries; may be NULL when rank == 0 */
    void *data;
    size_t size_bytes;
} lpfc_tensor;

/* What the model expects of one input or output.  Pointers stay valid until
 * the handle is destroyed (they point into the library's read-only data). */
typedef struct lpfc_tensor_info {
    const char *name;
    lpfc_dtype dtype;
    int32_t rank;
    const int64_t *dims;
    size_t size_bytes; /* product(dims) * lpfc_dtype_size(dtype) */
} lpfc_tensor_info;

typedef struct lpfc_model lpfc_model; /* opaque */

/* -- lifetime ---------------------------------------------------------------- */

/* Creates a handle for the model compiled into this library.  On failure
 * *out is set to NULL (when out is not NULL) and the status says why. */
LPFC_API lpfc_status lpfc_model_create(lpfc_model **out);

/* Frees a handle and its arena.  NULL is ignored. */
LPFC_API void lpfc_model_destroy(lpfc_model *model);

/* -- what the model expects ---------------------------------------------------- */

/* The number of inputs / outputs; 0 when model is NULL. */
LPFC_API size_t lpfc_model_num_inputs(const lpfc_model *model);
LPFC_API size_t lpfc_model_num_outputs(const lpfc_model *model);

/* Fills *info for input (output) number index.  Returns LPFC_ERR_NULL_POINTER
 * or LPFC_ERR_INDEX on misuse; these queries leave last_error untouched, so
 * that they are safe to call from any thread. */
LPFC_API lpfc_status lpfc_model_input_info(const lpfc_model *model, size_t index, lpfc_tensor_info *info);
LPFC_API lpfc_status lpfc_model_output_info(const lpfc_model *model, size_t index, lpfc_tensor_info *info);

/* Finds an input (output) by its exact name; LPFC_ERR_UNKNOWN_NAME if none. */
LPFC_API lpfc_status lpfc_model_find_input(const lpfc_model *model, const char *name, size_t *index);
LPFC_API lpfc_status lpfc_model_find_output(const lpfc_model *model, const char *name, size_t *index);

/* The bytes of the intermediate-tensor arena this handle holds (fixed at compile time). */
LPFC_API size_t lpfc_model_arena_bytes(const lpfc_model *model);

/* -- running ------------------------------------------------------------------- */

/* Sets how many threads one run may use: n >= 1, or 0 for the default (the
 * number of online processors).  Negative n is LPFC_ERR_INVALID_ARGUMENT. */
LPFC_API lpfc_status lpfc_model_set_threads(lpfc_model *model, int num_threads);
LPFC_API int lpfc_model_get_threads(const lpfc_model *model); /* 0 when model is NULL */

/* Runs the model.  Every model input and every model output must be given
 * exactly once, matched by name (or by position when a tensor's name is NULL),
 * with the model's dtype and shape and a large enough, element-aligned buffer.
 * Output buffers must not overlap the inputs or each other.  Everything is
 * checked before any computation starts; on a check failure no output is
 * written.  On LPFC_ERR_EXECUTION outputs may be partly written. */
LPFC_API lpfc_status lpfc_model_run(lpfc_model *model, const lpfc_tensor *inputs, size_t num_inputs,
                                    lpfc_tensor *outputs, size_t num_outputs);

/* Runs the model like lpfc_model_run and times every kernel call: seconds[i]
 * (i < capacity) receives the wall time of call i.  *num_kernels (when not
 * NULL) receives the number of kernel calls, and *kernel_info (when not NULL)
 * a static string with one line per call, tab-separated:
 * "name  emitter  kind  shapes  flop  variant".  A library generated without
 * profiling support sets *num_kernels to 0.  Profiling costs one clock read
 * per kernel; lpfc_model_run never reads the clock. */
LPFC_API lpfc_status lpfc_model_profile(lpfc_model *model, const lpfc_tensor *inputs, size_t num_inputs,
                                        lpfc_tensor *outputs, size_t num_outputs, double *seconds, size_t capacity,
                                        size_t *num_kernels, const char **kernel_info);

/* Sets up the model's accelerator now (the opencl target: selects the platform and
 * device - LPFC_OPENCL_PLATFORM / LPFC_OPENCL_DEVICE -, builds the OpenCL program or
 * loads it from the binary cache, uploads the weights).  lpfc_model_run does this
 * on its first call; call it to see set-up errors (LPFC_ERR_DEVICE, with the build
 * log in lpfc_model_last_error) before running.  LPFC_OK at once for CPU models. */
LPFC_API lpfc_status lpfc_model_prepare(lpfc_model *model);

/* The message of the last failed lpfc_model_run / lpfc_model_set_threads on this
 * handle, or "" after a success.  Valid until the next call on the handle.
 * Never NULL (for a NULL model it says so). */
LPFC_API const char *lpfc_model_last_error(const lpfc_model *model);

/* -- helpers ---------------------------------------------------------------------- */

LPFC_API const char *lpfc_status_name(lpfc_status status);  /* "LPFC_ERR_SHAPE", ... */
LPFC_API const char *lpfc_dtype_name(lpfc_dtype dtype);     /* "float32", ...; "unknown" */
LPFC_API size_t lpfc_dtype_size(lpfc_dtype dtype);          /* bytes per element; 0 if unknown */
LPFC_API const char *lpfc_runtime_version(void);            /* LPFC_RUNTIME_VERSION */

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* LPFC_RUNTIME_H */
