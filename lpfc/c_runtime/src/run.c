/* run.c - lpfc_model_run: match the caller's tensors to the model's, check them all, then run. */
#include <stdint.h>
#include <string.h>

#include "lpfc_internal.h"

/* Starts a message "input 'name' (#i): " in model->error and returns the position after it. */
static size_t begin(lpfc_model *m, const char *what, const lpfc_tensor_desc *t, size_t index) {
    size_t pos = 0;
    lpfc_append(m->error, sizeof m->error, &pos, "%s ", what);
    lpfc_append_name(m->error, sizeof m->error, &pos, t->name);
    lpfc_append(m->error, sizeof m->error, &pos, " (#%lu): ", (unsigned long)index);
    return pos;
}

/* Appends "dtype [dims]" of what the model expects. */
static void append_expected(lpfc_model *m, size_t *pos, const lpfc_tensor_desc *t) {
    lpfc_append(m->error, sizeof m->error, pos, "%s ", lpfc_dtype_name(t->dtype));
    lpfc_append_shape(m->error, sizeof m->error, pos, t->rank, t->dims);
}

/* Appends the list of the model's names: "'a', 'b'". */
static void append_names(lpfc_model *m, size_t *pos, const lpfc_tensor_desc *list, size_t n) {
    size_t i;
    for (i = 0; i < n; ++i) {
        if (i) lpfc_append(m->error, sizeof m->error, pos, ", ");
        lpfc_append_name(m->error, sizeof m->error, pos, list[i].name);
    }
}

/* Maps the caller's tensors to model positions: given[k] = 1 + position in the caller's array. */
static lpfc_status match(lpfc_model *m, const char *what, const lpfc_tensor *tensors, size_t n,
                         const lpfc_tensor_desc *list, size_t count, size_t *given) {
    size_t i, k, pos = 0;
    if (n > 0 && tensors == NULL)
        return lpfc_fail(m, LPFC_ERR_NULL_POINTER, "the %ss array is NULL but its count is %lu", what,
                         (unsigned long)n);
    memset(given, 0, (count ? count : 1) * sizeof *given);
    for (i = 0; i < n; ++i) {
        const char *name = tensors[i].name;
        if (name == NULL) {
            if (i >= count) {
                return lpfc_fail(m, LPFC_ERR_INDEX,
                                 "%s #%lu has no name, so it stands for the model's %s #%lu, but the model has "
                                 "only %lu %ss",
                                 what, (unsigned long)i, what, (unsigned long)i, (unsigned long)count, what);
            }
            k = i;
        } else {
            for (k = 0; k < count; ++k)
                if (strcmp(list[k].name, name) == 0) break;
            if (k == count) {
                lpfc_append(m->error, sizeof m->error, &pos, "%s #%lu is named ", what, (unsigned long)i);
                lpfc_append_name(m->error, sizeof m->error, &pos, name);
                lpfc_append(m->error, sizeof m->error, &pos, ", which is not one of the model's %ss (", what);
                append_names(m, &pos, list, count);
                lpfc_append(m->error, sizeof m->error, &pos, ")");
                return LPFC_ERR_UNKNOWN_NAME;
            }
        }
        if (given[k] != 0) {
            pos = begin(m, what, &list[k], k);
            lpfc_append(m->error, sizeof m->error, &pos, "given twice, as %s #%lu and #%lu", what,
                        (unsigned long)(given[k] - 1), (unsigned long)i);
            return LPFC_ERR_DUPLICATE;
        }
        given[k] = i + 1;
    }
    for (k = 0; k < count; ++k) {
        if (given[k] == 0) {
            pos = begin(m, what, &list[k], k);
            lpfc_append(m->error, sizeof m->error, &pos, "missing; the model expects ");
            append_expected(m, &pos, &list[k]);
            return LPFC_ERR_MISSING;
        }
    }
    return LPFC_OK;
}

/* Checks one caller tensor against the model's description of it. */
static lpfc_status check(lpfc_model *m, const char *what, const lpfc_tensor *t, const lpfc_tensor_desc *d,
                         size_t index) {
    size_t pos;
    int32_t i;
    int same = 1;
    if (t->dtype != d->dtype) {
        pos = begin(m, what, d, index);
        lpfc_append(m->error, sizeof m->error, &pos, "dtype ");
        lpfc_append_dtype(m->error, sizeof m->error, &pos, t->dtype);
        lpfc_append(m->error, sizeof m->error, &pos, " given, the model expects ");
        append_expected(m, &pos, d);
        return LPFC_ERR_DTYPE;
    }
    if (t->rank > 0 && t->dims == NULL) {
        pos = begin(m, what, d, index);
        lpfc_append(m->error, sizeof m->error, &pos, "dims is NULL with rank %ld; the model expects ",
                    (long)t->rank);
        append_expected(m, &pos, d);
        return LPFC_ERR_NULL_POINTER;
    }
    if (t->rank != d->rank) {
        same = 0;
    } else {
        for (i = 0; i < d->rank; ++i)
            if (t->dims[i] != d->dims[i]) same = 0;
    }
    if (!same) {
        pos = begin(m, what, d, index);
        lpfc_append(m->error, sizeof m->error, &pos, "shape ");
        lpfc_append_shape(m->error, sizeof m->error, &pos, t->rank, t->dims);
        lpfc_append(m->error, sizeof m->error, &pos, " given, the model expects ");
        append_expected(m, &pos, d);
        return LPFC_ERR_SHAPE;
    }
    if (t->data == NULL && d->size_bytes > 0) {
        pos = begin(m, what, d, index);
        lpfc_append(m->error, sizeof m->error, &pos, "data is NULL; the model expects %lu bytes of ",
                    (unsigned long)d->size_bytes);
        append_expected(m, &pos, d);
        return LPFC_ERR_NULL_POINTER;
    }
    if (t->size_bytes < d->size_bytes) {
        pos = begin(m, what, d, index);
        lpfc_append(m->error, sizeof m->error, &pos, "the buffer holds %lu bytes, ", (unsigned long)t->size_bytes);
        append_expected(m, &pos, d);
        lpfc_append(m->error, sizeof m->error, &pos, " needs %lu", (unsigned long)d->size_bytes);
        return LPFC_ERR_BUFFER_SIZE;
    }
    if ((uintptr_t)t->data % lpfc_dtype_size(d->dtype) != 0) {
        pos = begin(m, what, d, index);
        lpfc_append(m->error, sizeof m->error, &pos, "data is not aligned to its %lu-byte elements",
                    (unsigned long)lpfc_dtype_size(d->dtype));
        return LPFC_ERR_ALIGNMENT;
    }
    return LPFC_OK;
}

static int overlap(const void *a, size_t na, const void *b, size_t nb) {
    uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
    if (na == 0 || nb == 0) return 0;
    return pa < pb + nb && pb < pa + na;
}

static lpfc_status run_impl(lpfc_model *model, const lpfc_tensor *inputs, size_t num_inputs, lpfc_tensor *outputs,
                            size_t num_outputs, lpfc_profile_buffer *profile) {
    const lpfc_model_desc *d;
    lpfc_run_args args;
    lpfc_status s;
    size_t k, j, pos = 0;
    if (model == NULL) return LPFC_ERR_NULL_POINTER;
    model->error[0] = '\0';
    d = model->desc;

    s = match(model, "input", inputs, num_inputs, d->inputs, d->num_inputs, model->input_given);
    if (s != LPFC_OK) return s;
    s = match(model, "output", outputs, num_outputs, d->outputs, d->num_outputs, model->output_given);
    if (s != LPFC_OK) return s;
    for (k = 0; k < d->num_inputs; ++k) {
        const lpfc_tensor *t = &inputs[model->input_given[k] - 1];
        s = check(model, "input", t, &d->inputs[k], k);
        if (s != LPFC_OK) return s;
        model->input_ptrs[k] = t->data;
    }
    for (k = 0; k < d->num_outputs; ++k) {
        const lpfc_tensor *t = &outputs[model->output_given[k] - 1];
        s = check(model, "output", t, &d->outputs[k], k);
        if (s != LPFC_OK) return s;
        model->output_ptrs[k] = t->data;
    }
    /* Outputs are written while inputs are still read, and generated code may
     * write one output before it reads another: overlapping buffers would give
     * silently wrong results. */
    for (k = 0; k < d->num_outputs; ++k) {
        for (j = 0; j < d->num_inputs; ++j) {
            if (overlap(model->output_ptrs[k], d->outputs[k].size_bytes, model->input_ptrs[j],
                        d->inputs[j].size_bytes)) {
                pos = begin(model, "output", &d->outputs[k], k);
                lpfc_append(model->error, sizeof model->error, &pos, "its buffer overlaps input ");
                lpfc_append_name(model->error, sizeof model->error, &pos, d->inputs[j].name);
                return LPFC_ERR_ALIASING;
            }
        }
        for (j = 0; j < k; ++j) {
            if (overlap(model->output_ptrs[k], d->outputs[k].size_bytes, model->output_ptrs[j],
                        d->outputs[j].size_bytes)) {
                pos = begin(model, "output", &d->outputs[k], k);
                lpfc_append(model->error, sizeof model->error, &pos, "its buffer overlaps output ");
                lpfc_append_name(model->error, sizeof model->error, &pos, d->outputs[j].name);
                return LPFC_ERR_ALIASING;
            }
        }
    }

    if (d->device != NULL && model->device == NULL) {
        s = lpfc_model_prepare(model);
        if (s != LPFC_OK) return s;
    }
    args.model = d;
    args.arena = model->arena;
    args.inputs = model->input_ptrs;
    args.outputs = model->output_ptrs;
    args.num_threads = model->num_threads;
    args.device = model->device;
    args.error = model->error;
    args.error_size = sizeof model->error;
    args.profile = profile;
    s = d->run(&args);
    if (s == LPFC_OK) {
        model->error[0] = '\0';
        return LPFC_OK;
    }
    if (strcmp(lpfc_status_name(s), "LPFC_ERR_UNKNOWN_STATUS") == 0)
        s = LPFC_ERR_EXECUTION; /* generated code returned something that is not a status */
    if (model->error[0] == '\0') {
        lpfc_append(model->error, sizeof model->error, &pos, "the model failed with %s", lpfc_status_name(s));
    }
    return s;
}

lpfc_status lpfc_model_run(lpfc_model *model, const lpfc_tensor *inputs, size_t num_inputs, lpfc_tensor *outputs,
                           size_t num_outputs) {
    return run_impl(model, inputs, num_inputs, outputs, num_outputs, NULL);
}

lpfc_status lpfc_model_profile(lpfc_model *model, const lpfc_tensor *inputs, size_t num_inputs, lpfc_tensor *outputs,
                               size_t num_outputs, double *seconds, size_t capacity, size_t *num_kernels,
                               const char **kernel_info) {
    lpfc_profile_buffer profile;
    lpfc_status s;
    if (num_kernels) *num_kernels = 0;
    if (kernel_info) *kernel_info = "";
    if (seconds == NULL && capacity > 0) {
        if (model) lpfc_fail(model, LPFC_ERR_NULL_POINTER, "the seconds array is NULL but its capacity is %lu",
                             (unsigned long)capacity);
        return LPFC_ERR_NULL_POINTER;
    }
    profile.seconds = seconds;
    profile.capacity = capacity;
    profile.count = 0;
    profile.kernels = "";
    s = run_impl(model, inputs, num_inputs, outputs, num_outputs, &profile);
    if (num_kernels) *num_kernels = profile.count;
    if (kernel_info) *kernel_info = profile.kernels ? profile.kernels : "";
    return s;
}
