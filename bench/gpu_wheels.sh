#!/usr/bin/env bash
# Fetches, on this machine, the wheels bench/gpu_check.sh installs on the GPU machine (which has no
# network): scipy-openblas32 and pytest with its dependencies, into .device_wheels/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.device_wheels/' .git/info/exclude 2>/dev/null || echo '/.device_wheels/' >> .git/info/exclude
python3 -m pip download -q -d .device_wheels --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 \
  --platform manylinux_2_28_x86_64 --implementation cp scipy-openblas32 pytest
ls .device_wheels
