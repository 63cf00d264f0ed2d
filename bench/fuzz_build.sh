#!/usr/bin/env bash
# Builds pyfast_tape for coverage-guided fuzzing with atheris (bench/fuzz_atheris.py, bench/fuzz_run.sh):
# the native core and bindings compiled by clang with -fsanitize=address,undefined,fuzzer-no-link
# (ASan + UBSan reports abort; sancov edge counters feed libFuzzer), installed into .venv-fuzz, CPU only.
#
#     bash bench/fuzz_build.sh            # installs what is missing (apt: clang, libomp; pip: atheris, ...)
#
# Works on a fresh Debian/Ubuntu machine (root, or sudo): it installs clang and libomp with apt-get and
# atheris and the build requirements with pip. Environment knobs:
#   PYTHON=python3.11        interpreter for the venv (default: python3)
#   FUZZ_VENV=.venv-fuzz     venv path (default .venv-fuzz in the repository root)
#   FUZZ_BUILD_DIR=build/fuzz  scikit-build-core build directory (kept: rebuilds are incremental)
#   FUZZ_SANITIZERS=address,undefined   sanitizers (address is required: the harness preloads ASan)
#
# The sanitizers go through the project's PYFAST_TAPE_SANITIZE CMake option, which is expanded as
# -fsanitize=${PYFAST_TAPE_SANITIZE} on compile and link. It is given as a CMake list so that a second
# flag follows: -fno-sanitize=vptr,function. Those two UBSan checks need the C++ UBSan runtime, which
# atheris' asan_with_fuzzer.so (the runtime the harness preloads) does not contain: with them the
# module fails to import with an undefined __ubsan_handle_dynamic_type_cache_miss.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
VENV="${FUZZ_VENV:-$ROOT/.venv-fuzz}"
BUILD_DIR="${FUZZ_BUILD_DIR:-build/fuzz}"
SANITIZERS="${FUZZ_SANITIZERS:-address,undefined}"

log() { printf '[fuzz_build] %s\n' "$*" >&2; }

# ---- 1. clang + libomp (OpenMP for clang) -------------------------------------------------------
pick_clang() {
  for v in "" -19 -18 -17 -16 -15 -14; do
    if command -v "clang++$v" >/dev/null 2>&1 && command -v "clang$v" >/dev/null 2>&1; then
      echo "$v"; return 0
    fi
  done
  return 1
}
have_toolchain() {
  local sfx
  sfx="$(pick_clang)" || return 1
  # OpenMP for clang (libomp): the project's find_package(OpenMP REQUIRED) needs it
  printf '#include <omp.h>\nint main(){return omp_get_max_threads()<1;}\n' |
    "clang++$sfx" -fopenmp -x c++ - -o /tmp/fuzz_build_omp_check.$$ >/dev/null 2>&1 || return 1
  rm -f /tmp/fuzz_build_omp_check.$$
}
if ! have_toolchain; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { log "need root or sudo to apt-get install clang libomp-dev"; exit 1; }
    SUDO="sudo"
  fi
  log "installing clang and libomp-dev with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq clang libomp-dev >/dev/null
  have_toolchain || { log "clang++ with OpenMP still not working after apt-get install"; exit 1; }
fi
CLANG_SUFFIX="$(pick_clang)"
CC_BIN="$(command -v "clang$CLANG_SUFFIX")"
CXX_BIN="$(command -v "clang++$CLANG_SUFFIX")"
log "compiler: $("$CXX_BIN" --version | head -1)"

# ---- 2. venv with atheris and the build requirements -------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
"$VPY" -m pip install -q --upgrade pip
# Build requirements of pyproject.toml, installed here because the build runs without isolation (the
# build directory is kept, so a rebuild after a csrc/ edit recompiles only what changed).
"$VPY" -m pip install -q "atheris>=2.3" "numpy>=1.23" "scikit-build-core>=0.10" "pybind11>=2.12" \
  "scipy-openblas32>=0.3.27" "cmake>=3.18" "ninja"
ATHERIS_DIR="$("$VPY" -c 'import atheris; print(atheris.path())')"
ASAN_RT="$ATHERIS_DIR/asan_with_fuzzer.so"
[ -f "$ASAN_RT" ] || { log "atheris has no $ASAN_RT (needed to preload ASan + libFuzzer)"; exit 1; }

# ---- 3. the sanitized, coverage-instrumented build ----------------------------------------------
# RelWithDebInfo: pybind11 neither strips the module (symbolized sanitizer reports) nor, with
# CMAKE_INTERPROCEDURAL_OPTIMIZATION=OFF, links it with -flto (GNU ld rejects LTO'd sancov constructors).
# The project's sanitizer flags end in -O1, which wins over the build type's -O2.
log "building pyfast_tape (-fsanitize=$SANITIZERS,fuzzer-no-link) in $BUILD_DIR"
export CC="$CC_BIN" CXX="$CXX_BIN"
export PYFAST_TAPE_CUDA=OFF
export PYFAST_TAPE_SANITIZE="$SANITIZERS,fuzzer-no-link;-fno-sanitize=vptr,function"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
"$VPY" -m pip install --no-build-isolation --no-deps --force-reinstall -q \
  -C "build-dir=$BUILD_DIR" -C cmake.build-type=RelWithDebInfo \
  -C cmake.define.CMAKE_INTERPROCEDURAL_OPTIMIZATION=OFF "$ROOT"

# ---- 4. checks: instrumented, and importable under the preloaded runtime -------------------------
SO="$(cd / && "$VPY" - <<'EOF'
import importlib.util, os
spec = importlib.util.find_spec("pyfast_tape")
d = os.path.dirname(spec.origin)
print(next(os.path.join(d, f) for f in os.listdir(d) if f.startswith("_core") and f.endswith(".so")))
EOF
)"
SYMS="$(nm -D "$SO")"
grep -q __sanitizer_cov_8bit_counters_init <<<"$SYMS" || { log "$SO has no sancov counters"; exit 1; }
grep -q __asan_report <<<"$SYMS" || { log "$SO is not ASan-instrumented"; exit 1; }
# Run from outside the repository so that the installed package, not ./pyfast_tape, is imported.
(cd / && LD_PRELOAD="$ASAN_RT" ASAN_OPTIONS=detect_leaks=0 "$VPY" -c \
  'import pyfast_tape as tf; print("[fuzz_build] import ok:", tf.reduce_sum(tf.ones([3, 4])).numpy())')
log "done: $SO"
log "run:   bash bench/fuzz_run.sh [MINUTES]"
