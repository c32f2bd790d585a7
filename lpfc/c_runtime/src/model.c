/* model.c - creating and destroying handles, checking descriptors, queries. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lpfc_internal.h"

/* Checks one tensor descriptor (what = "input", "output" or "tensor"). */
static lpfc_status check_tensor(const lpfc_model_desc *desc, const lpfc_tensor_desc *t, const char *what,
                                size_t index, char *error, size_t error_size) {
    size_t pos = 0, itemsize, bytes;
    int32_t i;
    if (t->name == NULL) {
        lpfc_append(error, error_size, &pos, "%s #%lu has no name", what, (unsigned long)index);
        return LPFC_ERR_INVALID_MODEL;
    }
    itemsize = lpfc_dtype_size(t->dtype);
    if (itemsize == 0) {
        lpfc_append(error, error_size, &pos, "%s ", what);
        lpfc_append_name(error, error_size, &pos, t->name);
        lpfc_append(error, error_size, &pos, " has unknown dtype %d", (int)t->dtype);
        return LPFC_ERR_INVALID_MODEL;
    }
    if (t->rank < 0 || t->rank > LPFC_MAX_RANK || (t->rank > 0 && t->dims == NULL)) {
        lpfc_append(error, error_size, &pos, "%s ", what);
        lpfc_append_name(error, error_size, &pos, t->name);
        lpfc_append(error, error_size, &pos, " has rank %ld without dims, or outside 0..%d", (long)t->rank,
                    LPFC_MAX_RANK);
        return LPFC_ERR_INVALID_MODEL;
    }
    bytes = itemsize;
    for (i = 0; i < t->rank; ++i) {
        int64_t d = t->dims[i];
        if (d < 0 || (uint64_t)d > (uint64_t)SIZE_MAX || (d != 0 && bytes > SIZE_MAX / (size_t)d)) {
            lpfc_append(error, error_size, &pos, "%s ", what);
            lpfc_append_name(error, error_size, &pos, t->name);
            lpfc_append(error, error_size, &pos, " has a negative or too large dimension: ");
            lpfc_append_shape(error, error_size, &pos, t->rank, t->dims);
            return LPFC_ERR_INVALID_MODEL;
        }
        bytes *= (size_t)d;
    }
    if (bytes != t->size_bytes) {
        lpfc_append(error, error_size, &pos, "%s ", what);
        lpfc_append_name(error, error_size, &pos, t->name);
        lpfc_append(error, error_size, &pos, " declares %lu bytes, its shape needs %lu", (unsigned long)t->size_bytes,
                    (unsigned long)bytes);
        return LPFC_ERR_INVALID_MODEL;
    }
    if (desc == NULL) { /* an input or output: its storage is the caller's buffer */
        if (t->storage == LPFC_STORAGE_CALLER) return LPFC_OK;
        lpfc_append(error, error_size, &pos, "%s ", what);
        lpfc_append_name(error, error_size, &pos, t->name);
        lpfc_append(error, error_size, &pos, " must have storage LPFC_STORAGE_CALLER, not %d", (int)t->storage);
        return LPFC_ERR_INVALID_MODEL;
    }
    if (t->storage == LPFC_STORAGE_ARENA) {
        if (t->offset % LPFC_ARENA_ALIGNMENT != 0 || t->offset > desc->arena_bytes ||
            t->size_bytes > desc->arena_bytes - t->offset) {
            lpfc_append(error, error_size, &pos, "%s ", what);
            lpfc_append_name(error, error_size, &pos, t->name);
            lpfc_append(error, error_size, &pos,
                        " at arena offset %lu (%lu bytes) is misaligned or outside the %lu-byte arena",
                        (unsigned long)t->offset, (unsigned long)t->size_bytes, (unsigned long)desc->arena_bytes);
            return LPFC_ERR_INVALID_MODEL;
        }
    } else if (t->storage == LPFC_STORAGE_WEIGHT) {
        if ((t->data == NULL && t->size_bytes != 0) || (uintptr_t)t->data % itemsize != 0) {
            lpfc_append(error, error_size, &pos, "%s ", what);
            lpfc_append_name(error, error_size, &pos, t->name);
            lpfc_append(error, error_size, &pos, " is a weight with no data or misaligned data");
            return LPFC_ERR_INVALID_MODEL;
        }
    } else {
        lpfc_append(error, error_size, &pos, "%s ", what);
        lpfc_append_name(error, error_size, &pos, t->name);
        lpfc_append(error, error_size, &pos, " has unknown storage %d", (int)t->storage);
        return LPFC_ERR_INVALID_MODEL;
    }
    return LPFC_OK;
}

static lpfc_status check_list(const lpfc_tensor_desc *list, size_t n, const lpfc_model_desc *desc, const char *what,
                              char *error, size_t error_size) {
    size_t i, j, pos = 0;
    lpfc_status s;
    if (n > 0 && list == NULL) {
        lpfc_append(error, error_size, &pos, "the descriptor has %lu %ss but no table of them", (unsigned long)n,
                    what);
        return LPFC_ERR_INVALID_MODEL;
    }
    for (i = 0; i < n; ++i) {
        s = check_tensor(desc, &list[i], what, i, error, error_size);
        if (s != LPFC_OK) return s;
        /* Callers find inputs and outputs by name, so names must be unique (quadratic, at create only). */
        for (j = 0; desc == NULL && j < i; ++j) {
            if (strcmp(list[i].name, list[j].name) == 0) {
                lpfc_append(error, error_size, &pos, "two %ss are named ", what);
                lpfc_append_name(error, error_size, &pos, list[i].name);
                return LPFC_ERR_INVALID_MODEL;
            }
        }
    }
    return LPFC_OK;
}

lpfc_status lpfc_check_desc(const lpfc_model_desc *desc, char *error, size_t error_size) {
    size_t pos = 0;
    lpfc_status s;
    if (desc->abi_version != LPFC_ABI_VERSION) {
        lpfc_append(error, error_size, &pos,
                    "the model was generated for runtime ABI version %lu, this runtime has version %lu "
                    "(compile the model again with this lpfc)",
                    (unsigned long)desc->abi_version, (unsigned long)LPFC_ABI_VERSION);
        return LPFC_ERR_INVALID_MODEL;
    }
    if (desc->run == NULL) {
        lpfc_append(error, error_size, &pos, "the descriptor has no run function");
        return LPFC_ERR_INVALID_MODEL;
    }
    s = check_list(desc->inputs, desc->num_inputs, NULL, "input", error, error_size);
    if (s == LPFC_OK) s = check_list(desc->outputs, desc->num_outputs, NULL, "output", error, error_size);
    if (s == LPFC_OK) s = check_list(desc->tensors, desc->num_tensors, desc, "tensor", error, error_size);
    return s;
}

lpfc_status lpfc_model_create_from_desc(const lpfc_model_desc *desc, lpfc_model **out, char *error,
                                        size_t error_size) {
    lpfc_model *m;
    size_t pos = 0, nin, nout;
    lpfc_status s;
    if (error != NULL && error_size > 0) error[0] = '\0';
    if (out == NULL) {
        lpfc_append(error, error_size, &pos, "out (where to store the handle) is NULL");
        return LPFC_ERR_NULL_POINTER;
    }
    *out = NULL;
    if (desc == NULL) {
        lpfc_append(error, error_size, &pos, "the model descriptor is NULL");
        return LPFC_ERR_NULL_POINTER;
    }
    s = lpfc_check_desc(desc, error, error_size);
    if (s != LPFC_OK) return s;

    m = (lpfc_model *)calloc(1, sizeof *m);
    if (m == NULL) goto oom;
    m->desc = desc;
    m->num_threads = lpfc_default_threads();
    nin = desc->num_inputs ? desc->num_inputs : 1; /* calloc(0) may return NULL */
    nout = desc->num_outputs ? desc->num_outputs : 1;
    m->input_ptrs = (const void **)calloc(nin, sizeof *m->input_ptrs);
    m->output_ptrs = (void **)calloc(nout, sizeof *m->output_ptrs);
    m->input_given = (size_t *)calloc(nin, sizeof *m->input_given);
    m->output_given = (size_t *)calloc(nout, sizeof *m->output_given);
    if (!m->input_ptrs || !m->output_ptrs || !m->input_given || !m->output_given) goto oom;
    if (desc->arena_bytes > 0) {
        if (desc->arena_bytes > SIZE_MAX - LPFC_ARENA_ALIGNMENT) goto oom;
        /* C99 has no aligned_alloc; over-allocate and align by hand. */
        m->arena_block = malloc(desc->arena_bytes + LPFC_ARENA_ALIGNMENT);
        if (m->arena_block == NULL) goto oom;
        m->arena = (unsigned char *)m->arena_block +
                   (LPFC_ARENA_ALIGNMENT - (uintptr_t)m->arena_block % LPFC_ARENA_ALIGNMENT) % LPFC_ARENA_ALIGNMENT;
    }
    *out = m;
    return LPFC_OK;

oom:
    lpfc_model_destroy(m);
    lpfc_append(error, error_size, &pos, "out of memory creating the model (its arena needs %lu bytes)",
                (unsigned long)desc->arena_bytes);
    return LPFC_ERR_OUT_OF_MEMORY;
}

lpfc_status lpfc_model_create(lpfc_model **out) {
    return lpfc_model_create_from_desc(lpfc_generated_model(), out, NULL, 0);
}

lpfc_status lpfc_model_prepare(lpfc_model *model) {
    lpfc_status s;
    if (model == NULL) return LPFC_ERR_NULL_POINTER;
    model->error[0] = '\0';
    if (model->desc->device == NULL || model->device != NULL) return LPFC_OK;
    s = model->desc->device->create(&model->device, model->error, sizeof model->error);
    if (s != LPFC_OK) {
        model->device = NULL;
        if (model->error[0] == '\0') lpfc_fail(model, s, "the model's device could not be set up");
    }
    return s;
}

void lpfc_model_destroy(lpfc_model *model) {
    if (model == NULL) return;
    if (model->device != NULL && model->desc->device != NULL) model->desc->device->destroy(model->device);
    free(model->arena_block);
    free((void *)model->input_ptrs);
    free(model->output_ptrs);
    free(model->input_given);
    free(model->output_given);
    free(model);
}

size_t lpfc_model_num_inputs(const lpfc_model *model) { return model ? model->desc->num_inputs : 0; }

size_t lpfc_model_num_outputs(const lpfc_model *model) { return model ? model->desc->num_outputs : 0; }

size_t lpfc_model_arena_bytes(const lpfc_model *model) { return model ? model->desc->arena_bytes : 0; }

static lpfc_status fill_info(const lpfc_tensor_desc *list, size_t n, size_t index, lpfc_tensor_info *info) {
    const lpfc_tensor_desc *t;
    if (info == NULL) return LPFC_ERR_NULL_POINTER;
    if (index >= n) return LPFC_ERR_INDEX;
    t = &list[index];
    info->name = t->name;
    info->dtype = t->dtype;
    info->rank = t->rank;
    info->dims = t->dims;
    info->size_bytes = t->size_bytes;
    return LPFC_OK;
}

lpfc_status lpfc_model_input_info(const lpfc_model *model, size_t index, lpfc_tensor_info *info) {
    if (model == NULL) return LPFC_ERR_NULL_POINTER;
    return fill_info(model->desc->inputs, model->desc->num_inputs, index, info);
}

lpfc_status lpfc_model_output_info(const lpfc_model *model, size_t index, lpfc_tensor_info *info) {
    if (model == NULL) return LPFC_ERR_NULL_POINTER;
    return fill_info(model->desc->outputs, model->desc->num_outputs, index, info);
}

static lpfc_status find(const lpfc_tensor_desc *list, size_t n, const char *name, size_t *index) {
    size_t i;
    if (name == NULL || index == NULL) return LPFC_ERR_NULL_POINTER;
    for (i = 0; i < n; ++i) {
        if (strcmp(list[i].name, name) == 0) {
            *index = i;
            return LPFC_OK;
        }
    }
    return LPFC_ERR_UNKNOWN_NAME;
}

lpfc_status lpfc_model_find_input(const lpfc_model *model, const char *name, size_t *index) {
    if (model == NULL) return LPFC_ERR_NULL_POINTER;
    return find(model->desc->inputs, model->desc->num_inputs, name, index);
}

lpfc_status lpfc_model_find_output(const lpfc_model *model, const char *name, size_t *index) {
    if (model == NULL) return LPFC_ERR_NULL_POINTER;
    return find(model->desc->outputs, model->desc->num_outputs, name, index);
}

lpfc_status lpfc_model_set_threads(lpfc_model *model, int num_threads) {
    if (model == NULL) return LPFC_ERR_NULL_POINTER;
    model->error[0] = '\0';
    if (num_threads < 0)
        return lpfc_fail(model, LPFC_ERR_INVALID_ARGUMENT,
                         "thread count %d is negative (give n >= 1, or 0 for the default of %d)", num_threads,
                         lpfc_default_threads());
    model->num_threads = num_threads == 0 ? lpfc_default_threads() : num_threads;
    return LPFC_OK;
}

int lpfc_model_get_threads(const lpfc_model *model) { return model ? model->num_threads : 0; }

const char *lpfc_model_last_error(const lpfc_model *model) {
    if (model == NULL) return "the model handle is NULL";
    return model->error;
}
