// header_check.cc - the runtime headers as generated C++ code uses them (compiled, not run).
#include "lpfc_incbin.h"
#include "lpfc_model_desc.h"
#include "lpfc_runtime.h"

LPFC_INCBIN(header_check_blob, TINY_BIAS_PATH);

namespace {

const int64_t dims[1] = {6};
const lpfc_tensor_desc tensors[1] = {
    {"blob", LPFC_DTYPE_FLOAT, 1, dims, 24, LPFC_STORAGE_WEIGHT, 0, header_check_blob},
};

lpfc_status run(const lpfc_run_args *args) {
    if (args->num_threads < 1) return lpfc_run_fail(args, LPFC_ERR_EXECUTION, "bad thread count %d", args->num_threads);
    return LPFC_OK;
}

const lpfc_model_desc desc = {LPFC_ABI_VERSION, "header-check", 0, nullptr, 0, nullptr, 1, tensors, 0, run, nullptr};

}  // namespace

extern "C" LPFC_API const lpfc_model_desc *header_check_desc(void);
const lpfc_model_desc *header_check_desc(void) { return &desc; }
