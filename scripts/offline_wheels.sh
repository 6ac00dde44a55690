#!/usr/bin/env bash
# Wheels for a GPU machine that has PyTorch but no network (an air-gapped server, a lent cloud
# box): what prnet and Detectron2 import and such an image usually lacks, for its Python (default
# 3.12, x86-64 Linux), into one folder (default .wheels, ignored by git, ~14 MB):
#   bash scripts/offline_wheels.sh [DIR] [PYTHON_VERSION]      # here, with network
# then copy the repository with that folder to the GPU machine and run there
#   bash scripts/gpu_check.sh      # installs the wheels into a temporary folder when needed
# Left out (large; the machine's image must have them): torch, torchvision, numpy, opencv,
# matplotlib, tensorboard, onnx, onnxruntime, and TensorRT (without it, that step says skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-.wheels}
PYVER=${2:-3.12}
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
CONSTRAINTS=requirements/constraints.txt
pin() { grep -E "^$1([=<>!~]|$)" "$CONSTRAINTS" | head -n1 || echo "$1"; }
mkdir -p "$DIR"
download() {
  "$PY" -m pip download --disable-pip-version-check -q --no-deps --only-binary=:all: \
    --python-version "$PYVER" --implementation cp --platform manylinux_2_28_x86_64 \
    --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d "$DIR" "$@"
}
# binary wheels for that Python (pycocotools, faster-coco-eval and shapely are compiled)
download "$(pin timm)" "$(pin omegaconf)" "$(pin hydra-core)" "$(pin pycocotools)" \
  "$(pin faster-coco-eval)" yacs termcolor portalocker "$(pin sahi)" fire shapely
# Detectron2's registry wheel is tagged cp310 but its code is pure Python: gpu_check.sh unpacks
# it (pip would refuse the tag) without its compiled _C, which prnet never loads
"$PY" -m pip download --disable-pip-version-check -q --no-deps --only-binary=:all: \
  --python-version 3.10 -d "$DIR" "$(pin sal-detectron2)"
# pure-Python packages published only as source: built into wheels here
"$PY" -m pip wheel --disable-pip-version-check -q --no-deps -w "$DIR" \
  "$(pin fvcore)" "$(pin iopath)" "antlr4-python3-runtime==4.9.3"
rm -f "$DIR"/*.tar.gz
ls -1 "$DIR"
du -sh "$DIR"
