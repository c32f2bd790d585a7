/*
 * lpfc_model_desc.h - the contract between generated model code and the runtime.
 *
 * Host programs never need this header; they use lpfc_runtime.h.  Generated
 * code (C or C++) includes it and defines, with hidden visibility,
 *
 *     const lpfc_model_desc *lpfc_generated_model(void);
 *
 * returning a descriptor in static storage: the model's inputs and outputs,
 * the arena size chosen by the compile-time memory plan, the intermediate and
 * weight tensors (for validation and debugging), and the function that runs
 * the model.  All descriptor data must be static and immutable.
 *
 * Calling convention of `run`.  The runtime has already checked every input
 * and output (dtype, shape, size, alignment, no aliasing of outputs), so
 * generated code does no argument checking.  args->inputs[i] and
 * args->outputs[i] follow the descriptor's input and output order.  The arena
 * is model->arena_bytes bytes, aligned to LPFC_ARENA_ALIGNMENT, and holds
 * garbage from earlier runs.  An intermediate tensor lives at
 * args->arena + its offset; outputs are written to the caller's buffers
 * directly.  `run` returns LPFC_OK, or calls lpfc_run_fail() to report a
 * data-dependent failure (e.g. an index out of range) and returns its value.
 */
#ifndef LPFC_MODEL_DESC_H
#define LPFC_MODEL_DESC_H

#include "lpfc_runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define LPFC_INTERNAL __attribute__((visibility("hidden")))
#define LPFC_PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define LPFC_INTERNAL
#define LPFC_PRINTF_LIKE(fmt, args)
#endif

/* Alignment of the arena and of every arena offset the memory planner emits. */
#define LPFC_ARENA_ALIGNMENT 64u

/* Where a tensor of the descriptor's `tensors` table lives. */
typedef enum lpfc_storage {
    LPFC_STORAGE_CALLER = 0, /* inputs and outputs: the caller's buffers */
    LPFC_STORAGE_ARENA = 1,  /* at arena + offset */
    LPFC_STORAGE_WEIGHT = 2  /* at data, in the library's read-only data */
} lpfc_storage;

/* One tensor the model knows about.  For inputs and outputs, storage is
 * LPFC_STORAGE_CALLER and offset/data are unused. */
typedef struct lpfc_tensor_desc {
    const char *name;      /* the model's tensor name: a NUL-terminated, escaped literal */
    lpfc_dtype dtype;
    int32_t rank;          /* 0 .. LPFC_MAX_RANK */
    const int64_t *dims;   /* rank entries, each >= 0; may be NULL when rank == 0 */
    size_t size_bytes;     /* product(dims) * lpfc_dtype_size(dtype); checked at create */
    lpfc_storage storage;
    size_t offset;         /* LPFC_STORAGE_ARENA: byte offset, a multiple of LPFC_ARENA_ALIGNMENT */
    const void *data;      /* LPFC_STORAGE_WEIGHT: the bytes */
} lpfc_tensor_desc;

typedef struct lpfc_model_desc lpfc_model_desc;

/* Per-kernel timing (lpfc_model_profile).  The runtime sets seconds/capacity; generated code that
 * supports profiling sets count and kernels and writes seconds[i] (i < capacity) for kernel call i. */
typedef struct lpfc_profile_buffer {
    double *seconds;               /* capacity entries: wall time of each kernel call */
    size_t capacity;
    size_t count;                  /* generated code: the number of kernel calls in one run */
    const char *kernels;           /* generated code: one line per call, fields separated by tabs */
} lpfc_profile_buffer;

/* What `run` receives.  The struct lives on the runtime's stack for one run. */
typedef struct lpfc_run_args {
    const lpfc_model_desc *model;
    unsigned char *arena;          /* model->arena_bytes bytes, LPFC_ARENA_ALIGNMENT-aligned; NULL if 0 bytes */
    const void *const *inputs;     /* model->num_inputs pointers, descriptor order */
    void *const *outputs;          /* model->num_outputs pointers, descriptor order */
    int num_threads;               /* >= 1 */
    void *device;                  /* what model->device->create made (NULL for CPU models) */
    char *error;                   /* message buffer for lpfc_run_fail */
    size_t error_size;
    lpfc_profile_buffer *profile;  /* NULL unless lpfc_model_profile runs the model: then time every kernel */
} lpfc_run_args;

typedef lpfc_status (*lpfc_run_fn)(const lpfc_run_args *args);

/* An accelerator the model's kernels run on (the opencl target), set up once per handle on
 * first use (lpfc_model_prepare or the first run) and released by lpfc_model_destroy.
 * create writes a message into error (error_size bytes) when it fails. */
typedef struct lpfc_device_ops {
    lpfc_status (*create)(void **device, char *error, size_t error_size);
    void (*destroy)(void *device);
} lpfc_device_ops;

struct lpfc_model_desc {
    uint32_t abi_version;          /* LPFC_ABI_VERSION */
    const char *name;              /* the model's name, for messages */
    size_t num_inputs;
    const lpfc_tensor_desc *inputs;
    size_t num_outputs;
    const lpfc_tensor_desc *outputs;
    size_t num_tensors;            /* intermediates and weights; may be 0 */
    const lpfc_tensor_desc *tensors;
    size_t arena_bytes;            /* peak of the static memory plan */
    lpfc_run_fn run;
    const lpfc_device_ops *device; /* NULL: every kernel runs on the CPU */
};

/* Defined by the generated code of the model in this library. */
LPFC_INTERNAL const lpfc_model_desc *lpfc_generated_model(void);

/* Creates a handle for a given descriptor (for hosts that link several models
 * into one program, each exporting its descriptor under its own name).
 * Checks the descriptor; on LPFC_ERR_INVALID_MODEL, when error is not NULL,
 * writes a message there (at most error_size bytes, NUL-terminated). */
LPFC_API lpfc_status lpfc_model_create_from_desc(const lpfc_model_desc *desc, lpfc_model **out, char *error,
                                                 size_t error_size);

/* For generated code: a monotonic clock in seconds (profiling). */
LPFC_INTERNAL double lpfc_clock_seconds(void);

/* For generated code: formats a message into args->error and returns status
 * (use LPFC_ERR_EXECUTION for data-dependent failures). */
LPFC_INTERNAL lpfc_status lpfc_run_fail(const lpfc_run_args *args, lpfc_status status, const char *format, ...)
    LPFC_PRINTF_LIKE(3, 4);

/* Index checks in generated kernels (gather, gather_elements, gather_nd, scatter, embeddings).
 * `fault` points to the run function's int64_t[3], all 0 before the kernel (NULL: nowhere to report,
 * e.g. the tuner's harness).  The first out-of-range index is recorded -- fault[0] = 1, fault[1] = the
 * index as given, fault[2] = the axis length -- with a compare-exchange, so the threads of one kernel
 * agree on which; the kernel goes on with index 0 (a read that stays inside the tensor) and run()
 * returns LPFC_ERR_EXECUTION naming the op and the index.  The check costs a compare and a
 * never-taken branch per index load; the recording is out of line. */
#if defined(__GNUC__)
#define LPFC_FAULT_ATTRS __attribute__((noinline, cold, unused))
#define LPFC_FAULT_CONST_ATTRS __attribute__((const, noinline, cold, unused))
#define LPFC_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define LPFC_FAULT_ATTRS
#define LPFC_FAULT_CONST_ATTRS
#define LPFC_UNLIKELY(x) (x)
#endif

/* records the first fault (a kernel's own range test calls it on its cold path); returns 0 */
LPFC_FAULT_ATTRS static int64_t lpfc_index_fault(int64_t *fault, int64_t index, int64_t n) {
    if (fault) {
        int64_t expected = 0;
        if (__atomic_compare_exchange_n(&fault[0], &expected, (int64_t)1, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            __atomic_store_n(&fault[1], index, __ATOMIC_RELAXED);
            __atomic_store_n(&fault[2], n, __ATOMIC_RELAXED);
        }
    }
    return 0;
}

/* The same, declared `const` -- a deliberate white lie: its only effect is the report, which nothing in a
 * kernel reads, and const keeps lpfc_check_index a pure function of its arguments for the optimiser, so an
 * index that is the same for a whole inner loop is loaded and checked once and the loop still vectorises
 * (with a plain call, which may write any memory, a 128-row gather took 7x as long).  The result (0) goes
 * through an empty asm so that the compiler cannot know it and drop the call. */
LPFC_FAULT_CONST_ATTRS static int64_t lpfc_index_fault_in_loop(int64_t *fault, int64_t index, int64_t n) {
    int64_t r = lpfc_index_fault(fault, index, n);
#if defined(__GNUC__)
    __asm__("" : "+r"(r));
#endif
    return r;
}

/* index (negative counts from the end, as in ONNX) as a position in [0, n), or 0 after recording a fault */
static inline int64_t lpfc_check_index(int64_t *fault, int64_t index, int64_t n) {
    const int64_t i = index < 0 ? index + n : index;
    if (LPFC_UNLIKELY((uint64_t)i >= (uint64_t)n)) return lpfc_index_fault_in_loop(fault, index, n);
    return i;
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* LPFC_MODEL_DESC_H */
