"""Dynamic instruction count of one inference of a .tflite model run by LiteRT's aarch64 wheel (XNNPACK) under
qemu-user - the peer of ``bench/qemu_icount.py``'s lpfc counts.  Not a test: it needs root (see below) and minutes.

The setup it expects (docs/fp16.md, "Instructions against XNNPACK"; nothing of it is installed on the machine):

* an arm64 Python 3.11: Debian's ``python3.11-minimal``, ``libpython3.11-minimal``, ``libpython3.11-stdlib`` and
  their libraries (libc6, libstdc++6, libgcc-s1, libexpat1, zlib1g, libffi8, ...) ``:arm64``, fetched with
  ``apt-get download`` (after ``dpkg --add-architecture arm64; apt-get update``) and unpacked with ``dpkg -x`` into
  ``--sysroot`` (not installed: python3:arm64 would replace the machine's python3);
* the aarch64 wheels unpacked into ``--site``: ``pip download --no-deps --only-binary=:all: --python-version 3.11
  --platform manylinux_2_27_aarch64 ai-edge-litert==2.3.0 numpy ml_dtypes`` (+ the pure-Python deps
  backports.strenum flatbuffers tqdm typing-extensions, and protobuf for manylinux2014_aarch64), then ``unzip``.

qemu-user 7.2 passes the host's /proc/cpuinfo through; LiteRT's cpuinfo library finds no ARM core in it and
crashes (SIGSEGV at address 8, right after reading the sysfs cache topology).  So the run happens in a private
mount namespace (``unshare -m``, root) with an ARM /proc/cpuinfo bound over the real one: two Cortex-A77
cores (implementer 0x41, part 0xd0d, the features of ``-mcpu=cortex-a77``).  The machine's own mounts are
untouched.

One inference = count(create, allocate, 1 + runs invocations) - count(create, allocate, 1 invocation), divided by
``runs``: the warm-up invocation (XNNPACK packs its weights lazily) is in both, so the difference is steady-state
inference, as lpfc's count is.  One thread; inputs are ones (token ids 1, mask 1), as in qemu_icount.py.

    sudo .venv/bin/python bench/qemu_icount_litert.py MODEL.tflite --sysroot DIR --site DIR [--runs 1]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.qemu_icount import build_plugin  # noqa: E402

CPUINFO_A77 = "".join(   # (the features of cortex-a76/a77: no SVE)
    f"processor\t: {i}\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp "
    "asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs\nCPU implementer\t: 0x41\nCPU architecture: 8\n"
    "CPU variant\t: 0x1\nCPU part\t: 0xd0d\nCPU revision\t: 0\n\n" for i in range(2))

RUNNER = r"""
import sys
import numpy as np
from ai_edge_litert.interpreter import Interpreter
model, invocations = sys.argv[1], int(sys.argv[2])
it = Interpreter(model_path=model, num_threads=1)
it.allocate_tensors()
for d in it.get_input_details():
    it.set_tensor(d["index"], np.ones(d["shape"], dtype=d["dtype"]))
for _ in range(invocations):
    it.invoke()
print("invoked", invocations, [tuple(d["shape"]) for d in it.get_output_details()])
"""


def count(args, plugin: Path, work: Path, invocations: int) -> int:
    out = work / f"count{invocations}.txt"
    runner = work / "litert_runner.py"
    cpuinfo = work / "cpuinfo"
    qemu = (f"PYTHONPATH={args.site} qemu-aarch64 -cpu {args.qemu_cpu} -plugin {plugin},out={out} -L {args.sysroot} "
            f"{args.sysroot}/usr/bin/python3.11 {runner} {Path(args.model).resolve()} {invocations}")
    script = f"mount --bind {cpuinfo} /proc/cpuinfo && {qemu}"
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"the LiteRT run failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    print(r.stdout.strip(), flush=True)
    return int(out.read_text().split()[1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="a .tflite model")
    p.add_argument("--sysroot", required=True, help="the unpacked arm64 Debian packages (usr/bin/python3.11)")
    p.add_argument("--site", required=True, help="the unpacked aarch64 wheels (ai_edge_litert, numpy, ...)")
    p.add_argument("--qemu-cpu", default="cortex-a76",
                   help="the CPU qemu emulates (default cortex-a76: ARMv8.2 + fp16 + dotprod like lpfc's cortex-a77, "
                        "which qemu 7.2 lacks; qemu's default 'max' has 512-bit SVE, which XNNPACK then uses)")
    p.add_argument("--runs", type=int, default=1, help="inferences counted after the warm-up (default 1)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lpfc-icount-litert-") as d:
        work = Path(d)
        (work / "litert_runner.py").write_text(RUNNER)
        (work / "cpuinfo").write_text(CPUINFO_A77)
        plugin = build_plugin(work)
        base = count(args, plugin, work, 1)
        more = count(args, plugin, work, 1 + args.runs)
    print(f"{Path(args.model).name}: LiteRT 2.3.0 (XNNPACK), qemu -cpu {args.qemu_cpu}, 1 thread, insns/inference {(more - base) // args.runs:,}"
          f"  (setup + warm-up {base:,})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
