#!/usr/bin/env bash
# Installs what Concept Learner needs on a fresh Debian 12 machine (Swift itself must be on PATH).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q ocl-icd-opencl-dev opencl-headers libclblast-dev pocl-opencl-icd libopenblas-dev clinfo
# The checkpoint interoperability test reads our safetensors files with Python's reader.
if command -v python3 >/dev/null; then
    python3 -c "import safetensors, numpy" 2>/dev/null || python3 -m pip install -q safetensors numpy \
        || echo "note: could not install Python safetensors; that test will be skipped"
fi
if ! command -v swift >/dev/null; then
    if [ -x /opt/swift/usr/bin/swift ]; then echo "note: add /opt/swift/usr/bin to PATH"; else echo "error: Swift 6 toolchain not found on PATH" >&2; exit 1; fi
fi
