"""Code size, build time and the dynamic instruction count of one inference of a model compiled for arm64.

Not a test (and never run in CI: BERT-base takes minutes under qemu).  For each configuration it compiles
the model with ``lpfc.compile`` (keeping the generated source), reports the library's size, its code size
(``.text``), the generated C++ size and the build time, and - for arm64-linux - counts the AArch64
instructions qemu-user executes for one inference.

Counting: a ~40-line qemu TCG plugin (written out and built with the host's gcc on first use; qemu-user
7.2 loads plugins but Debian ships neither plugins nor ``qemu-plugin.h``, so the few API declarations are
spelled out below) adds each translated block's instruction count to a counter every time the block runs
(an inline add, so counting costs little).  A small driver links the library, creates the model, fills
every input with ones and calls ``lpfc_model_run`` N times; one inference is
``(count(runs) - count(0)) / runs``, which leaves out process start-up, loading and model creation (the
first run still pays for resolving its PLT entries: a few thousand instructions).  One thread (the
inline counter is not atomic; two threads would race on it).  Repeated counts of one library agree to
about 1e-5 (a few thousand instructions of start-up noise that the subtraction does not cancel).

    .venv/bin/python bench/qemu_icount.py minilm [bert-base ...] [--variant dynamo20] [--configs host,neon,scalar]
                                          [--runs 1] [--workdir build/icount] [--cpu cortex-a77]

``--configs``: ``host`` (this machine's ISA, sizes and build time only), ``neon`` (arm64-linux, the NEON
kernels), ``scalar`` (arm64-linux with the portable scalar SIMD layer forced - the path arm64 took before
NEON existed), ``neon-fp16`` (arm64-linux, ``--precision fp16``: half weights, FP16 GEMM arithmetic).
A model is a zoo name (exported on demand) or an .onnx path.
"""
from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lpfc  # noqa: E402
from lpfc.codegen import simd  # noqa: E402
from lpfc.codegen.toolchain import compile_executable, find_toolchain, runtime_include_dir  # noqa: E402

PLUGIN_SOURCE = r"""
/* lpfc bench: counts the guest instructions qemu-user executes (QEMU TCG plugin API version 1, qemu 7.x). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
typedef struct qemu_info_t qemu_info_t;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr,
                                              uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

static uint64_t insns;
static char out_path[4096];

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &insns, qemu_plugin_tb_n_insns(tb));
}

static void on_exit(qemu_plugin_id_t id, void *userdata) {
    (void)id; (void)userdata;
    FILE *f = out_path[0] ? fopen(out_path, "w") : stderr;
    if (f) { fprintf(f, "insns %llu\n", (unsigned long long)insns); if (f != stderr) fclose(f); }
}

__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
    (void)info;
    for (int i = 0; i < argc; ++i)
        if (strncmp(argv[i], "out=", 4) == 0) snprintf(out_path, sizeof out_path, "%s", argv[i] + 4);
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_exit, NULL);
    return 0;
}
"""

DRIVER_SOURCE = r"""
/* lpfc bench: create the model, fill every input with ones, run it N times (argv[1]) on argv[2] threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lpfc_runtime.h"

static void fill_ones(lpfc_tensor *t) {
    size_t n = t->size_bytes / lpfc_dtype_size(t->dtype), i;
    for (i = 0; i < n; ++i) {
        if (t->dtype == LPFC_DTYPE_FLOAT) ((float *)t->data)[i] = 1.0f;
        else if (t->dtype == LPFC_DTYPE_INT64) ((long long *)t->data)[i] = 1;
        else if (t->dtype == LPFC_DTYPE_INT32) ((int *)t->data)[i] = 1;
        else memset((char *)t->data + i * lpfc_dtype_size(t->dtype), 1, 1);
    }
}

static void make(lpfc_tensor *t, const lpfc_tensor_info *info) {
    size_t n = lpfc_dtype_size(info->dtype);
    int k;
    for (k = 0; k < (int)info->rank; ++k) n *= (size_t)info->dims[k];
    t->name = info->name; t->dtype = info->dtype; t->rank = info->rank; t->dims = info->dims;
    t->size_bytes = n;
    t->data = calloc(n ? n : 1, 1);
}

int main(int argc, char **argv) {
    int runs = argc > 1 ? atoi(argv[1]) : 1, threads = argc > 2 ? atoi(argv[2]) : 1, r;
    lpfc_model *m = NULL;
    lpfc_tensor in[64], out[64];
    size_t ni, no, i;
    if (lpfc_model_create(&m) != LPFC_OK || lpfc_model_set_threads(m, threads) != LPFC_OK) return 1;
    ni = lpfc_model_num_inputs(m);
    no = lpfc_model_num_outputs(m);
    if (ni > 64 || no > 64) return 1;
    for (i = 0; i < ni; ++i) {
        lpfc_tensor_info info;
        lpfc_model_input_info(m, i, &info);
        make(&in[i], &info);
        fill_ones(&in[i]);
    }
    for (i = 0; i < no; ++i) {
        lpfc_tensor_info info;
        lpfc_model_output_info(m, i, &info);
        make(&out[i], &info);
    }
    for (r = 0; r < runs; ++r)
        if (lpfc_model_run(m, in, ni, out, no) != LPFC_OK) {
            fprintf(stderr, "%s\n", lpfc_model_last_error(m));
            return 1;
        }
    printf("ran %d\n", runs);
    lpfc_model_destroy(m);
    return 0;
}
"""


@contextlib.contextmanager
def forced_isa(name):
    """Every emitter picks ISA ``name`` (None: the target's own) while compiling."""
    if name is None:
        yield
        return
    original = simd.select_isa

    def select(target, choice=None):
        return original(target, dict(choice or {}, isa=name))
    simd.select_isa = select
    try:
        yield
    finally:
        simd.select_isa = original


def build_plugin(workdir: Path) -> Path:
    src, lib = workdir / "icount_plugin.c", workdir / "libicount_plugin.so"
    if not lib.exists():
        src.write_text(PLUGIN_SOURCE)
        subprocess.run(["gcc", "-std=c99", "-O2", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror", "-o", str(lib),
                        str(src)], check=True)
    return lib


def text_bytes(lib: Path, arch_prefix: str) -> int:
    """The size of the library's .text section (its machine code)."""
    out = subprocess.run([f"{arch_prefix}size", "-A", str(lib)], capture_output=True, text=True, check=True).stdout
    return sum(int(line.split()[1]) for line in out.splitlines() if line.startswith(".text"))


def count(tc, plugin: Path, exe: Path, runs: int, threads: int, out: Path, qemu_cpu=None) -> tuple[int, float]:
    cpu = ["-cpu", qemu_cpu] if qemu_cpu else []
    argv = [*tc.runner[:1], *cpu, "-plugin", f"{plugin},out={out}", *tc.runner[1:], str(exe), str(runs), str(threads)]
    t0 = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"qemu failed ({r.returncode}): {' '.join(argv)}\n{r.stderr[-2000:]}")
    return int(out.read_text().split()[1]), wall


def measure(model: str, variant: str, config: str, workdir: Path, runs: int, cpu, qemu_cpu=None) -> dict:
    path = Path(model) if model.endswith(".onnx") else lpfc.testing.zoo.export(model, variant)
    target = "host" if config == "host" else "arm64-linux"
    d = workdir / f"{path.stem}-{config}"
    d.mkdir(parents=True, exist_ok=True)
    with forced_isa("scalar" if config == "scalar" else None):
        res = lpfc.compile(path, d / "libmodel.so", target=target, emit_source=d / "src",
                           cpu=cpu if target != "host" else None,
                           precision="fp16" if config == "neon-fp16" else "fp32")
    cc = sum(p.stat().st_size for p in (d / "src").glob("*.cc"))
    row = {"model": path.stem, "config": config, "so_bytes": res.library.stat().st_size,
           "text_bytes": text_bytes(res.library, "" if target == "host" else "aarch64-linux-gnu-"),
           "cc_bytes": cc, "build_s": res.stage_seconds.get("build", 0.0),
           "generate_s": res.stage_seconds.get("generate", 0.0)}
    if target == "host":
        return row
    tc = find_toolchain(target, cpu=cpu)
    if not tc.runner:
        raise SystemExit("counting needs qemu-aarch64 (a non-arm64 host)")
    exe = compile_executable(tc, [workdir / "icount_driver.c"], d / "driver", include_dirs=[runtime_include_dir()],
                             link_flags=[str(res.library), f"-Wl,-rpath,{d}"])
    plugin = build_plugin(workdir)
    base, w0 = count(tc, plugin, exe, 0, 1, d / "count0.txt", qemu_cpu)
    more, w1 = count(tc, plugin, exe, runs, 1, d / "count1.txt", qemu_cpu)
    row.update(insns=(more - base) // runs, insns_setup=base, qemu_s_per_run=(w1 - w0) / runs)
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="+", help="zoo names (minilm, bert-base, ...) or .onnx paths")
    p.add_argument("--variant", default="dynamo20", help="zoo exporter variant (default dynamo20)")
    p.add_argument("--configs", default="host,neon,scalar", help="comma-separated: host, neon, scalar, neon-fp16")
    p.add_argument("--runs", type=int, default=1, help="inferences counted (default 1)")
    p.add_argument("--cpu", default=None, help="-mcpu for the arm64 builds (default: lpfc's, cortex-a77)")
    p.add_argument("--qemu-cpu", default=None, help="the CPU qemu emulates (default qemu's 'max'; cortex-a76 as "
                   "bench/qemu_icount_litert.py: lpfc's kernels use no SVE, so the count is the same)")
    p.add_argument("--workdir", default="build/icount", help="where libraries and sources go")
    args = p.parse_args(argv)
    import lpfc.testing.zoo  # noqa: F401
    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "icount_driver.c").write_text(DRIVER_SOURCE)
    rows = []
    for model in args.models:
        for config in args.configs.split(","):
            row = measure(model, args.variant, config, workdir, args.runs, args.cpu, args.qemu_cpu)
            rows.append(row)
            print(f"{row['model']:22} {config:9} .so {row['so_bytes'] / 1e6:8.1f} MB  "
                  f".text {row['text_bytes'] / 1e3:7.1f} KB  .cc {row['cc_bytes'] / 1e3:7.1f} KB  build {row['build_s']:6.1f} s"
                  + (f"  insns/inference {row['insns']:>14,}  (qemu {row['qemu_s_per_run']:.1f} s/inference)"
                     if "insns" in row else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
