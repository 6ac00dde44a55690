#!/usr/bin/env bash
# The GPU path in one run (<= 5 minutes on one GPU): AMP training iterations, DDP over every
# visible GPU, ONNX -> TensorRT FP16 engine vs eager parity, the CUDA-event benchmark JSON at
# batch 1 and 32, batched slicing vs SAHI (prnet/experiments/gpu_check.py). Writes gpu_check.json
# and the benchmark JSONs to $OUT (when set, e.g. on a lent device machine) or output/gpu_check.
# Exits 0 with a message when there is no GPU; non-zero when a step failed.
#   bash scripts/gpu_check.sh                 # all steps
#   bash scripts/gpu_check.sh --steps ddp     # some of them; --list shows them
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
case " $* " in *" --list "*) exec "$PYTHON" -m prnet.experiments.gpu_check "$@" ;; esac
if ! command -v nvidia-smi >/dev/null 2>&1 && [ -z "${CUDA_VISIBLE_DEVICES+x}" ] \
    && [ ! -e /dev/nvidia0 ]; then
  echo "[gpu_check] no NVIDIA GPU on this machine (no nvidia-smi, no /dev/nvidia0): nothing to check."
  exit 0
fi
missing_packages() {
  "$PYTHON" - <<'PY' 2>&1
import importlib.util
need = ["torch", "torchvision", "detectron2", "timm", "onnx", "onnxruntime", "prnet"]
print(" ".join(m for m in need if importlib.util.find_spec(m) is None))
PY
}
missing=$(missing_packages)
WHEELS=${PRNET_WHEELS:-.wheels}
if [ -n "$missing" ] && [ -d "$WHEELS" ]; then
  # an offline machine with PyTorch: the wheels of scripts/offline_wheels.sh, into a temporary
  # folder (nothing of the machine's own Python changes)
  site=$(mktemp -d)/site
  echo "[gpu_check] $PYTHON lacks: $missing; installing $WHEELS into $site"
  wheels=() detectron2=()
  for w in "$WHEELS"/*.whl; do
    case "$(basename "$w")" in sal_detectron2-*) detectron2+=("$w") ;; *) wheels+=("$w") ;; esac
  done
  if [ ${#wheels[@]} -gt 0 ]; then
    "$PYTHON" -m pip install -q --disable-pip-version-check --root-user-action ignore --no-index \
      --no-deps --no-compile --target "$site" "${wheels[@]}" || exit 2
  fi
  for w in "${detectron2[@]}"; do  # tagged cp310 (pip would refuse it) but pure Python
    "$PYTHON" -m zipfile -e "$w" "$site" || exit 2
    rm -rf "$site/tools" "$site"/detectron2/_C.*.so  # tools/ would shadow this repository's
  done
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
  missing=$(missing_packages)
fi
if [ -n "$missing" ]; then
  echo "[gpu_check] $PYTHON lacks: $missing. Install first (make install, PYTHON=/path/to/python," \
    "or on a machine without network the wheels of scripts/offline_wheels.sh in $WHEELS)."
  exit 2
fi
exec timeout --signal=INT 330 "$PYTHON" -m prnet.experiments.gpu_check "$@"
