#!/usr/bin/env bash
# The one script a lent GPU machine runs: CUDA tests, emulator tests, compute-sanitizer and the
# CUDA benchmarks (the fused conv; whole U-Net and ModelMix steps at width 64 / 256² / batch 8
# beside PyTorch's on the same card when it has torch with CUDA), everything logged under $OUT
# (or ./gpu-check-out), in under 8 minutes.
#
# Here (a machine with the toolkit, no GPU), pack the binaries a bare GPU machine needs:
#   cmake --build /tmp/build-cuda -j1 --target test_cuda test_cuda_fused test_device_gpu bench_cuda_conv2d \
#       bench_device_step test_ops_cuda_emu
#   scripts/gpu_check.sh pack /tmp/build-cuda .gpu-carry    # bin/ + lib/ (libbenchmark, cuDNN shim, …)
#   echo /.gpu-carry/ >> .git/info/exclude                  # carried, not committed
# There (repository root, the carried folder beside it):
#   scripts/gpu_check.sh                  # uses $GPU_CHECK_BUILD, else ./.gpu-carry, else builds
#
# Binaries link cudart statically, so they run on any driver new enough for CUDA 13. cuDNN is
# linked dynamically (cuDNN 9 ships no static library): the script looks for a full cuDNN 9 on
# the machine (ldconfig, /usr/local/cuda, pip's nvidia-cudnn-cu13) and puts it first on
# LD_LIBRARY_PATH; without one, the carried libcudnn.so.9 dispatcher lets the programs start,
# cudnnCreate fails, and the cuDNN tests and benchmarks report themselves skipped.
#
# Environment: OUT, GPU_CHECK_BUILD, GPU_CHECK_BUDGET_S (default 450), GPU_CHECK_MIN_TIME
# (benchmark min time per benchmark, default 0.05), GPU_CHECK_BENCH_FILTER (default "paired"),
# GPU_CHECK_STEP_MIN_TIME (seconds per whole-step benchmark, default 1), GPU_CHECK_STEP_CONFIG
# (WIDTH,SIZE,BATCH of the step benchmarks, default 64,256,8).
set -u

# ---- pack mode ------------------------------------------------------------------------------
if [ "${1:-}" = "pack" ]; then
  build="${2:?usage: gpu_check.sh pack BUILD_DIR [DEST]}"
  dest="${3:-.gpu-carry}"
  rm -rf "$dest" && mkdir -p "$dest/bin" "$dest/lib"
  # The emulator tests travel without their sanitizer builds (those are for CPU machines).
  for f in "$build"/tests/cuda/test_* "$build"/tests/ops/cuda/test_ops_cuda_emu "$build"/benchmarks/bench_cuda_* \
           "$build"/benchmarks/bench_device_step; do
    [ -f "$f" ] && [ -x "$f" ] && cp "$f" "$dest/bin/" && echo "packed $(basename "$f")"
  done
  # Shared libraries a bare machine may lack: everything ldd resolves outside the C runtime.
  for f in "$dest"/bin/*; do ldd "$f" 2>/dev/null; done | awk '/=> \//{print $1, $3}' | sort -u |
    while read -r name path; do
      case "$name" in
        libc.so*|libm.so*|libdl.so*|librt.so*|libpthread.so*|ld-linux*|libgcc_s.so*|libstdc++.so*) ;;
        *) cp -L "$path" "$dest/lib/$name" && echo "packed lib $name" ;;
      esac
    done
  # The build log's ptxas lines, if the caller saved them, travel too.
  [ -f "$build/ptxas.log" ] && cp "$build/ptxas.log" "$dest/"
  du -sh "$dest"
  exit 0
fi

# ---- run mode -------------------------------------------------------------------------------
OUT="${OUT:-./gpu-check-out}"
mkdir -p "$OUT"
LOG="$OUT/gpu_check.log"
SUMMARY="$OUT/summary.md"
BUDGET="${GPU_CHECK_BUDGET_S:-450}"
MIN_TIME="${GPU_CHECK_MIN_TIME:-0.05}"
BENCH_FILTER="${GPU_CHECK_BENCH_FILTER:-paired}"
STEP_MIN_TIME="${GPU_CHECK_STEP_MIN_TIME:-1}"
STEP_CONFIG="${GPU_CHECK_STEP_CONFIG:-64,256,8}"
START=$SECONDS
: >"$LOG"
RESULTS=()

log() { echo "$*" | tee -a "$LOG"; }
remaining() { echo $((BUDGET - (SECONDS - START))); }

# step NAME TIMEOUT_S CMD...: run with a time limit (capped by what is left of the budget),
# output to the log, exit code recorded; never stops the script.
step() {
  local name="$1" limit="$2"
  shift 2
  local left
  left=$(remaining)
  if [ "$left" -lt 20 ]; then
    log "== $name: skipped, time budget spent"
    RESULTS+=("| $name | skipped (budget) | 0 |")
    return 0
  fi
  [ "$limit" -gt $((left - 10)) ] && limit=$((left - 10))
  log ""
  log "== $name (limit ${limit}s, t=$((SECONDS - START))s): $*"
  local t0=$SECONDS
  timeout -k 10 "$limit" "$@" >>"$LOG" 2>&1
  local rc=$?
  local dt=$((SECONDS - t0))
  local what="exit $rc"
  [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && what="timed out ($rc)"
  log "== $name: $what after ${dt}s"
  RESULTS+=("| $name | $what | $dt |")
  return 0
}

log "gpu_check on $(hostname) at $(date -u +%FT%TZ), budget ${BUDGET}s"

# 1. The card.
if command -v nvidia-smi >/dev/null 2>&1; then
  step "nvidia-smi" 30 nvidia-smi
  step "nvidia-smi query" 30 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
else
  log "nvidia-smi: not found"
  RESULTS+=("| nvidia-smi | not found | 0 |")
fi

# 2. cuDNN on this machine, first on the loader path.
CUDNN_DIR=""
for d in $(ldconfig -p 2>/dev/null | awk '/libcudnn\.so\.9/{print $NF}' | xargs -r -n1 dirname) \
         /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/lib/x86_64-linux-gnu; do
  if [ -f "$d/libcudnn.so.9" ] && [ -f "$d/libcudnn_cnn.so.9" ]; then CUDNN_DIR="$d"; break; fi
done
if [ -z "$CUDNN_DIR" ] && command -v python3 >/dev/null 2>&1; then
  d=$(timeout 30 python3 -c 'import nvidia.cudnn, os; print(os.path.join(list(nvidia.cudnn.__path__)[0], "lib"))' 2>/dev/null)
  [ -n "$d" ] && [ -f "$d/libcudnn.so.9" ] && CUDNN_DIR="$d"
fi
if [ -z "$CUDNN_DIR" ]; then
  d=$(timeout 30 find / -xdev -name libcudnn_cnn.so.9 -not -path '/proc/*' 2>/dev/null | head -1)
  [ -n "$d" ] && CUDNN_DIR=$(dirname "$d")
fi
log "cuDNN: ${CUDNN_DIR:-not found (the cuDNN tests and benchmarks will skip)}"

# 3. Binaries: a carried folder, a build folder, or a build here.
BIN=""
CTEST_DIR=""
CARRY="${GPU_CHECK_BUILD:-}"
[ -z "$CARRY" ] && [ -d ./.gpu-carry/bin ] && CARRY=./.gpu-carry
if [ -n "$CARRY" ] && [ -d "$CARRY/bin" ]; then
  BIN="$(cd "$CARRY/bin" && pwd)"
  export LD_LIBRARY_PATH="${CUDNN_DIR:+$CUDNN_DIR:}$(cd "$CARRY/lib" 2>/dev/null && pwd)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  log "binaries: carried $BIN"
elif [ -n "$CARRY" ] && [ -f "$CARRY/CTestTestfile.cmake" ]; then
  CTEST_DIR="$(cd "$CARRY" && pwd)"
  log "binaries: build folder $CTEST_DIR"
elif command -v cmake >/dev/null 2>&1 && { command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; }; then
  CTEST_DIR=/tmp/gpu-check-build
  step "configure" 120 cmake -S . -B "$CTEST_DIR" -DCMAKE_BUILD_TYPE=Release -DMODELMIX_BUILD_EXAMPLES=OFF \
    -DMODELMIX_WITH_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90
  step "build" 300 cmake --build "$CTEST_DIR" -j "$(nproc)" --target test_cuda test_cuda_fused test_device_gpu bench_cuda_conv2d \
    bench_device_step
  step "build emu" 180 cmake --build "$CTEST_DIR" -j "$(nproc)" --target test_ops_cuda_emu
else
  log "binaries: none carried and no cmake+nvcc to build: nothing to run"
fi
[ -n "$CUDNN_DIR" ] && [ -n "$CTEST_DIR" ] && export LD_LIBRARY_PATH="$CUDNN_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

find_bin() {  # find_bin NAME: path of a built or carried program, or nothing
  if [ -n "$BIN" ] && [ -x "$BIN/$1" ]; then echo "$BIN/$1"; return; fi
  [ -n "$CTEST_DIR" ] && find "$CTEST_DIR" -type f -name "$1" -perm -u+x 2>/dev/null | head -1
}

# 4. The gpu tests (and the emulator tests).
if [ -n "$CTEST_DIR" ]; then
  step "ctest -L gpu" 240 ctest --test-dir "$CTEST_DIR" -L gpu --output-on-failure
  step "ctest -L emu" 120 ctest --test-dir "$CTEST_DIR" -L emu -E "tsan|asan|sanitizer" --output-on-failure -j 8
else
  for t in test_cuda test_cuda_fused; do
    p=$(find_bin $t)
    [ -n "$p" ] && step "$t [gpu]" 240 "$p" "[gpu]" --durations yes
  done
  p=$(find_bin test_ops_cuda_emu)
  [ -n "$p" ] && step "test_ops_cuda_emu [emu]" 120 "$p" "[emu]"
fi
skips=$(grep -c "MODELMIX_SKIP" "$LOG")
log "MODELMIX_SKIP lines so far: $skips"

# 5. The benchmark (paired family: every variant and the ratios per shape).
BENCH=$(find_bin bench_cuda_conv2d)
if [ -n "$BENCH" ]; then
  step "bench_cuda_conv2d" 240 "$BENCH" "--benchmark_filter=$BENCH_FILTER" "--benchmark_min_time=$MIN_TIME" \
    "--benchmark_out=$OUT/bench.json" --benchmark_out_format=json --benchmark_counters_tabular=true
fi

# 5b. Whole training steps on the device, then PyTorch's same steps on the same card (when this
# machine's python3 has torch with CUDA): the time and peak-memory comparison of docs/benchmarks.md.
STEPS=$(find_bin bench_device_step)
if [ -n "$STEPS" ]; then
  step "bench_device_step" 180 "$STEPS" "--modelmix_config=$STEP_CONFIG" "--benchmark_min_time=$STEP_MIN_TIME" \
    "--benchmark_out=$OUT/bench_step.json" --benchmark_out_format=json --benchmark_counters_tabular=true
fi
if command -v python3 >/dev/null 2>&1 && timeout 60 python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  here="$(cd "$(dirname "$0")/.." && pwd)"
  step "torch U-Net step (cuda)" 90 python3 "$here/benchmarks/torch_unet_step.py" --device cuda --config "$STEP_CONFIG" --min-seconds "$STEP_MIN_TIME"
  step "torch ModelMix step (cuda)" 120 python3 "$here/benchmarks/torch_modelmix_step.py" --device cuda --config "$STEP_CONFIG" --min-seconds "$STEP_MIN_TIME"
else
  log "torch with CUDA: not on this machine's python3 (no PyTorch side of the step comparison)"
fi

# 6. compute-sanitizer (memcheck) on the fused test, with what time is left.
SAN=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
FUSED=$(find_bin test_cuda_fused)
if [ -n "$SAN" ] && [ -n "$FUSED" ]; then
  step "compute-sanitizer memcheck" 150 "$SAN" --tool memcheck --error-exitcode 99 "$FUSED" "fused conv2d matches the CPU path"
else
  log "compute-sanitizer: ${SAN:-not found}; fused test: ${FUSED:-not built}"
fi

# 7. Summary: steps, then the benchmark table.
{
  echo "# gpu_check $(date -u +%FT%TZ)"
  echo
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | sed 's/^/GPU: /'
  echo "cuDNN: ${CUDNN_DIR:-not found}"
  echo
  echo "| step | result | seconds |"
  echo "| --- | --- | --- |"
  printf '%s\n' "${RESULTS[@]}"
  echo
  echo "MODELMIX_SKIP lines: $skips; failed Catch2 assertions/tests: see gpu_check.log"
  echo
  if [ -f "$OUT/bench.json" ] && command -v python3 >/dev/null 2>&1; then
    python3 - "$OUT/bench.json" <<'PY'
import json, sys
try:
    data = json.load(open(sys.argv[1]))
except ValueError as e:  # cut short by the time limit: the console output is in the log
    print(f"(bench.json unreadable: {e}; see gpu_check.log)")
    sys.exit(0)
cols = ["fused TFLOP/s", "naive_fused TFLOP/s", "naive_cudnn TFLOP/s", "plain_cudnn TFLOP/s",
        "fused/plain_cudnn", "fused/naive_cudnn", "fused/naive_fused"]
paired = [b for b in data.get("benchmarks", []) if "_paired/" in b["name"]]
singles = [b for b in data.get("benchmarks", []) if "_paired/" not in b["name"]]
if paired:
    print("## Paired (medians; ratios are speed ratios, > 1: fused faster)\n")
    print("| benchmark | " + " | ".join(cols) + " |")
    print("| --- |" + " --- |" * len(cols))
    for b in paired:
        if b.get("error_occurred"):
            print(f"| {b['name']} | error: {b.get('error_message', '')} |" + " |" * (len(cols) - 1))
        else:
            print(f"| {b['name']} | " + " | ".join(f"{b.get(c, float('nan')):.3g}" for c in cols) + " |")
if singles:
    print("\n## Single variants\n")
    print("| benchmark | ms | TFLOP/s |")
    print("| --- | --- | --- |")
    for b in singles:
        if b.get("error_occurred"):
            print(f"| {b['name']} | error: {b.get('error_message', '')} | |")
        else:
            print(f"| {b['name']} | {b['real_time']:.3f} | {b.get('TFLOP/s', float('nan')):.3g} |")
PY
  elif [ -f "$OUT/bench.json" ]; then
    echo "(no python3: raw benchmark output is in gpu_check.log and bench.json)"
  else
    echo "(no benchmark results)"
  fi
  if [ -f "$OUT/bench_step.json" ] && command -v python3 >/dev/null 2>&1; then
    python3 - "$OUT/bench_step.json" "$LOG" <<'PY'
import json, re, sys
try:
    data = json.load(open(sys.argv[1]))
except ValueError as e:
    print(f"(bench_step.json unreadable: {e}; see gpu_check.log)")
    sys.exit(0)
print("\n## Whole steps on the device (modelmix)\n")
print("| benchmark | ms per step | peak device MB |")
print("| --- | --- | --- |")
ours = {}  # (kind, config) -> (ms, MB)
for b in data.get("benchmarks", []):
    if b.get("error_occurred"):
        print(f"| {b['name']} | error: {b.get('error_message', '')} | |")
        continue
    print(f"| {b['name']} | {b['real_time']:.2f} | {b.get('peak_device_MB', float('nan')):.1f} |")
    m = re.match(r"device/BM_(\w+?)_step/(width:\d+/size:\d+/batch:\d+)", b["name"])
    if m:
        ours[(m.group(1), m.group(2))] = (b["real_time"], b.get("peak_device_MB"))
# PyTorch's lines in the log: torch[-MIX]/BM_KIND_step/CONFIG  median X ms  best Y ms  peak_device_MB Z
theirs = {}
for line in open(sys.argv[2], errors="replace"):
    m = re.match(r"torch(?:-(\w+))?/BM_(\w+?)_step/(\S+)\s+median\s+([\d.]+) ms", line)
    if m:
        theirs[(m.group(1) or "", m.group(2), m.group(3))] = float(m.group(4))
rows = []
for (kind, config), (ms, mb) in sorted(ours.items()):
    for (mix, tkind, tconfig), tms in sorted(theirs.items()):
        if tkind == kind and tconfig == config:
            rows.append(f"| {kind} step, {config} | torch{'-' + mix if mix else ''} | {tms / ms:.2f}x |")
    if kind == "modelmix" and ("plain_three_pass", config) in ours and mb:
        rows.append(f"| modelmix / plain three-pass peak device memory, {config} | | {mb / ours[('plain_three_pass', config)][1]:.3f} |")
if rows:
    print("\n## Ratios (speed: PyTorch's median time / ours, > 1: modelmix faster)\n")
    print("| what | against | ratio |")
    print("| --- | --- | --- |")
    print("\n".join(rows))
PY
  fi
  if grep -q '^torch' "$LOG"; then
    echo
    echo "## PyTorch on the same card (median, best, peak device MB)"
    echo
    grep -E '^(# torch|torch)' "$LOG" | sed 's/^/    /'
  fi
} >"$SUMMARY" 2>&1
cat "$SUMMARY" | tee -a "$LOG"
log "gpu_check done in $((SECONDS - START))s"
exit 0
