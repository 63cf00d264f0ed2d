#!/usr/bin/env bash
# Runs the atheris harness (bench/fuzz_atheris.py) on the ASan/UBSan + sancov build for MINUTES minutes
# (default 3) over the corpus kept in the repository (bench/fuzz_corpus/, read-only here: new inputs go to
# build/fuzz/corpus/). Crashing inputs are written to bench/fuzz_crashes/ and each gets a one-line Python
# reproducer. Exit status: 0 when nothing was found, 1 on any finding, 2 when the fuzzer itself failed.
#
#     bash bench/fuzz_run.sh            # 3 minutes; builds .venv-fuzz first if needed (bench/fuzz_build.sh)
#     bash bench/fuzz_run.sh 20
#
# Environment:
#   FUZZ_JOBS=N        N>1: libFuzzer's -fork=N and keep going after a finding (collects many findings);
#                      default 1: stop at the first finding (fast fail for CI)
#   FUZZ_SKIP=...      harness knobs to steer around known crash classes (see bench/fuzz_atheris.py)
#   FUZZ_MINIMIZE=1    minimize each finding (statement-level ddmin) before printing its reproducer
#   FUZZ_MERGE=1       afterwards, replace bench/fuzz_corpus/ by a coverage-minimal merge of it and the new
#                      inputs when that stays under 500 files and 2 MB (libFuzzer -merge=1)
#   FUZZ_REBUILD=0/1   skip/force the rebuild check (default: rebuild when csrc/ or pyfast_tape/ changed)
#   FUZZ_TIMEOUT (s, default 60), FUZZ_RSS_MB (6144), FUZZ_MALLOC_MB (1024), FUZZ_MAX_LEN (2048),
#   FUZZ_THREADS (OpenMP threads, default 2), FUZZ_FLAGS (extra libFuzzer flags)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MINUTES="${1:-3}"
VENV="${FUZZ_VENV:-$ROOT/.venv-fuzz}"
VPY="$VENV/bin/python"
CORPUS=bench/fuzz_corpus
CRASHES=bench/fuzz_crashes
WORK="${FUZZ_WORK:-build/fuzz/corpus}"
LOGDIR=build/fuzz/logs
mkdir -p "$CORPUS" "$CRASHES" "$WORK" "$LOGDIR"

log() { printf '[fuzz_run] %s\n' "$*" >&2; }

# ---- the build: present, importable, and not older than the sources --------------------------------------
asan_rt() { "$VPY" -c 'import atheris, os; print(os.path.join(atheris.path(), "asan_with_fuzzer.so"))' 2>/dev/null; }
need_build=0
if [ ! -x "$VPY" ] || ! ASAN_RT="$(asan_rt)" || [ ! -f "$ASAN_RT" ]; then
  need_build=1
else
  SO="$(ls "$VENV"/lib/python3*/site-packages/pyfast_tape/_core*.so 2>/dev/null | head -1)"
  if [ -z "$SO" ]; then
    need_build=1
  elif [ "${FUZZ_REBUILD:-}" = 1 ]; then
    need_build=1
  elif [ "${FUZZ_REBUILD:-}" != 0 ] && [ -n "$(find csrc pyfast_tape CMakeLists.txt pyproject.toml -newer "$SO" -type f 2>/dev/null | head -1)" ]; then
    log "sources changed since the last fuzzing build: rebuilding"
    need_build=1
  fi
fi
if [ "$need_build" = 1 ]; then
  bash bench/fuzz_build.sh || { log "build failed"; exit 2; }
  ASAN_RT="$(asan_rt)"
fi

# ---- the run ------------------------------------------------------------------------------------------------
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:handle_abort=1:symbolize=1:detect_stack_use_after_return=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:symbolize=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export PYFAST_TAPE_CACHE_MB=0             # no recycled large blocks: ASan sees every buffer's lifetime
export OMP_NUM_THREADS="${FUZZ_THREADS:-2}"
export PATH="$VENV/bin:$PATH"            # -fork/-merge children run the script through its #! line
SYMBOLIZER="$(command -v llvm-symbolizer || ls /usr/lib/llvm-*/bin/llvm-symbolizer 2>/dev/null | tail -1 || true)"
[ -n "$SYMBOLIZER" ] && export ASAN_SYMBOLIZER_PATH="$SYMBOLIZER"

JOBS="${FUZZ_JOBS:-1}"
FLAGS=(-max_total_time=$((MINUTES * 60)) -timeout="${FUZZ_TIMEOUT:-60}" -rss_limit_mb="${FUZZ_RSS_MB:-6144}"
       -malloc_limit_mb="${FUZZ_MALLOC_MB:-1024}" -max_len="${FUZZ_MAX_LEN:-2048}" -artifact_prefix="$CRASHES/"
       -print_final_stats=1 -reload=30)
if [ "$JOBS" -gt 1 ]; then
  FLAGS+=(-fork="$JOBS" -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
fi
# shellcheck disable=SC2206
FLAGS+=(${FUZZ_FLAGS:-})

STAMP="$(mktemp)"
LOG="$LOGDIR/fuzz-$(date +%Y%m%d-%H%M%S).log"
log "fuzzing for $MINUTES min (jobs $JOBS${FUZZ_SKIP:+, FUZZ_SKIP=$FUZZ_SKIP}); corpus $CORPUS (+ new in $WORK); log $LOG"
# The full log goes to $LOG; the terminal gets the status lines (at most one coverage line per 20 s).
LD_PRELOAD="$ASAN_RT" "$VPY" bench/fuzz_atheris.py "${FLAGS[@]}" "$WORK" "$CORPUS" >"$LOG" 2>&1 &
FUZZ_PID=$!
tail -n +1 -F "$LOG" --pid="$FUZZ_PID" 2>/dev/null | {
  last=-100
  while IFS= read -r line; do
    case "$line" in
      *NEW_FUNC*|"INFO: Instrumenting"*) ;;
      "#"*cov:*)
        if [ $((SECONDS - last)) -ge 20 ]; then printf '%s\n' "$line"; last=$SECONDS; fi ;;
      *) printf '%s\n' "$line" ;;
    esac
  done
}
wait "$FUZZ_PID"
FUZZ_RC=$?

# ---- figures ------------------------------------------------------------------------------------------------
LAST_COV="$(grep -E '^#[0-9]+.*cov: ' "$LOG" | tail -1)"
EXECS="$(grep -E '^stat::number_of_executed_units' "$LOG" | awk '{s += $2} END {print s + 0}')"
log "libFuzzer exit status $FUZZ_RC; last status: ${LAST_COV:-none}"
if [ "$JOBS" -gt 1 ]; then  # fork mode: the parent's last "#N: cov: ..." line counts all jobs' executions
  EXECS="$(printf '%s\n' "$LAST_COV" | sed -n 's/^#\([0-9]*\):.*/\1/p')"
fi
log "executions: ${EXECS:-?}"

# ---- findings: one reproducer each --------------------------------------------------------------------------
mapfile -t NEW < <(find "$CRASHES" -maxdepth 1 -type f -newer "$STAMP" \
                   \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) ! -name '*.txt' | sort)
# Inputs slower than 10 s are no crash; they are moved out of the repository (they may show a loop over a
# huge empty extent, or just a big legitimate tensor under ASan) and listed.
mapfile -t SLOW < <(find "$CRASHES" -maxdepth 1 -type f -newer "$STAMP" -name 'slow-unit-*' ! -name '*.txt')
rm -f "$STAMP"
if [ "${#SLOW[@]}" -gt 0 ]; then
  mkdir -p build/fuzz/slow
  for f in "${SLOW[@]}"; do
    mv "$f" build/fuzz/slow/
    log "slow input (not a finding): build/fuzz/slow/$(basename "$f"); see: $VPY bench/fuzz_atheris.py --repro build/fuzz/slow/$(basename "$f")"
  done
fi
MODE=--repro
[ "${FUZZ_MINIMIZE:-0}" = 1 ] && MODE=--minimize
for f in "${NEW[@]}"; do
  out="$("$VPY" bench/fuzz_atheris.py "$MODE" "$f" 2>&1)"
  printf '%s\n' "$out" >"$f.repro.txt"
  sig="$(printf '%s\n' "$out" | sed -n 's/^# decodes to .*crash: //p' | head -1)"
  echo "FINDING $f: $sig"
  echo "  LD_PRELOAD=$ASAN_RT ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 \\"
  echo "  $(printf '%s\n' "$out" | grep -A1 '^# one-line reproducer:' | tail -1 | sed "s#^python #$VPY #")"
done

# ---- corpus merge (opt-in) -------------------------------------------------------------------------------------
if [ "${FUZZ_MERGE:-0}" = 1 ]; then
  # libFuzzer's merge records every input's features in a control file; from it, a greedy pick of the
  # inputs that add the most features, up to 480 files and 1.9 MB, becomes the kept corpus.
  MERGED="$(mktemp -d)"
  mkdir -p "$MERGED/out"
  LD_PRELOAD="$ASAN_RT" "$VPY" bench/fuzz_atheris.py -merge=1 -merge_control_file="$MERGED/control" \
    -timeout="${FUZZ_TIMEOUT:-60}" -rss_limit_mb="${FUZZ_RSS_MB:-6144}" -malloc_limit_mb="${FUZZ_MALLOC_MB:-1024}" \
    -max_len="${FUZZ_MAX_LEN:-2048}" -artifact_prefix="$LOGDIR/merge-" "$MERGED/out" "$CORPUS" "$WORK" \
    >"$LOGDIR/merge.log" 2>&1 </dev/null
  if [ -s "$MERGED/control" ] && "$VPY" bench/fuzz_atheris.py --pick-corpus "$MERGED/control" "$MERGED/pick" 480 1900000; then
    find "$CORPUS" -maxdepth 1 -type f ! -name '.gitkeep' -delete
    cp "$MERGED"/pick/* "$CORPUS"/
    log "corpus $CORPUS: $(find "$CORPUS" -type f ! -name .gitkeep | wc -l) files, $(du -sb "$CORPUS" | cut -f1) bytes"
  else
    log "the merge failed (see $LOGDIR/merge.log): $CORPUS left as it was"
  fi
  rm -rf "$MERGED"
fi

if [ "${#NEW[@]}" -gt 0 ]; then
  log "${#NEW[@]} finding(s) in $CRASHES (reproducers beside them, *.repro.txt)"
  exit 1
fi
if [ "$FUZZ_RC" -ne 0 ]; then
  log "the fuzzer exited with status $FUZZ_RC and no crash file: see $LOG"
  exit 2
fi
log "no findings"
