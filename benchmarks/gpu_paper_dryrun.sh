#!/usr/bin/env bash
# The paper path on one GPU in ONE call (issue 23, item 4): install the notebook stack offline from
# benchmarks/wheelhouse (benchmarks/build_wheelhouse.sh; carry it), write the rehearsal data, then
#   1. pytest -m cuda                                   -> $OUT/pytest_cuda.log
#   2. the device suite's correctness section           -> $OUT/device_suite/device_suite.json
#   3. torch.profiler of the compiled ViT-B SimMIM/KAMIM steps -> $OUT/profile/profile_*.txt, profile_steps.json
#   4. kamim reproduce --profile paper-dryrun (device=cuda) -> $OUT/paper-dryrun/ (reproduce.json: 12/12?)
# Each step has its own time limit (seconds; env STEP_TIMEOUT_*), is logged, and a failing step does not stop the
# next; the reproduce is resumable (done-markers), so a second call continues where the first stopped.
#   device tool:  run(command="benchmarks/gpu_paper_dryrun.sh", carry=["benchmarks/wheelhouse"])
#   on the CPU:   benchmarks/gpu_paper_dryrun.sh --cpu OUT   (device=cpu, smoke sizes, reproduce --only method)
set -uo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
DEVICE=cuda
if [[ "${1:-}" == "--cpu" ]]; then DEVICE=cpu; shift; fi
OUT=${1:-${OUT:-$REPO/gpu_dryrun_out}}
mkdir -p "$OUT"
WORK=${WORK:-$(mktemp -d)}
cd "$REPO"
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
STATUS="$OUT/status.txt"; : > "$STATUS"

step() {  # step NAME TIMEOUT_S COMMAND...: run, log, record the exit code and seconds
  local name=$1 limit=$2; shift 2
  local start=$SECONDS
  echo "== $name (limit ${limit}s): $*" | tee -a "$OUT/run.log"
  timeout --signal=INT --kill-after=20 "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  echo "$name rc=$rc seconds=$((SECONDS - start))" | tee -a "$STATUS"
  tail -5 "$OUT/$name.log"
}

# 0. The notebook stack, offline, into a folder put first on PYTHONPATH: the machine's own python (with its torch,
#    timm and OpenCV) runs everything, the notebooks' python3 kernel included (it inherits PYTHONPATH).
PY=${PYTHON:-python}
step install 180 "$PY" -m pip install --no-index --find-links "$REPO/benchmarks/wheelhouse" --target "$WORK/site" \
  papermill nbformat nbclient ipykernel jupyter_client pyzmq pytest
export PYTHONPATH="$WORK/site:$PYTHONPATH"
export PATH="$WORK/site/bin:$PATH"
{ echo "date: $(date -u +%FT%TZ)"; echo "commit: $(git rev-parse HEAD 2>/dev/null)"; "$PY" - <<'PY'
import platform, torch
print("python:", platform.python_version(), "torch:", torch.__version__)
print("device:", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu")
PY
} > "$OUT/provenance.txt" 2>&1

# Rehearsal data (docs/paper-rehearsal.md): ImageNet-1K and Imagenette2-160 layouts from the bundled photos.
step rehearsal_data 120 "$PY" -m kamim_paper.cli rehearsal-data "$WORK/rehearsal"

if [[ $DEVICE == cuda ]]; then
  step pytest_cuda "${STEP_TIMEOUT_PYTEST:-150}" "$PY" -m pytest -q -m cuda tests -p no:cacheprovider
  step device_suite "${STEP_TIMEOUT_SUITE:-120}" "$PY" benchmarks/device_suite.py --out "$OUT/device_suite" \
    --sections correctness
  step profile "${STEP_TIMEOUT_PROFILE:-180}" "$PY" benchmarks/profile_train_step.py --out "$OUT/profile"
  ONLY=()
else  # the same code paths, tiny: known to start
  step pytest 120 "$PY" -m pytest -q tests/lib/test_engine_eval.py -k tf32 -p no:cacheprovider
  step device_suite 300 "$PY" benchmarks/device_suite.py --smoke --out "$OUT/device_suite" --sections correctness
  step profile 300 "$PY" benchmarks/profile_train_step.py --smoke --out "$OUT/profile"
  ONLY=(--only method)
fi
step reproduce "${STEP_TIMEOUT_REPRODUCE:-400}" "$PY" -m kamim_paper.cli reproduce --profile paper-dryrun \
  --out-dir "$OUT/paper-dryrun" "${ONLY[@]}" \
  --set device=$DEVICE --set data_root="$WORK/rehearsal/imagenet" \
  --set analysis_data_root="$WORK/rehearsal/imagenette2-160"
rm -rf "$OUT/paper-dryrun/runs"   # checkpoints: too large to bring back
cat "$STATUS"
! grep -qv "rc=0 " "$STATUS"
