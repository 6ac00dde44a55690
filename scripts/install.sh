#!/usr/bin/env bash
# Idempotent set-up of a prnet development environment in $VENV (default .venv).
#  1. a virtual environment;  2. torch + torchvision (pinned in requirements/constraints.txt);
#  3. Detectron2, unless it already imports (e.g. a CUDA build from source): the registry wheel
#     `sal-detectron2` holds upstream Detectron2's Python code, tagged cp310 but pure Python;
#  4. prnet itself, editable, with the `dev` extra.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
CONSTRAINTS=requirements/constraints.txt

if [ ! -x "$VENV/bin/python" ]; then
  echo "[install] creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
pip_install() { "$PY" -m pip install --disable-pip-version-check -q -c "$CONSTRAINTS" "$@"; }
pin() { grep -E "^$1([=<>!~]|$)" "$CONSTRAINTS" | head -n1; }

"$PY" -m pip install --disable-pip-version-check -q --upgrade "pip>=24" wheel "$(pin setuptools)"

if ! "$PY" -c "import torch, torchvision" 2>/dev/null; then
  echo "[install] installing $(pin torch) $(pin torchvision) (about 1.5 minutes)"
  pip_install torch torchvision
fi

if ! "$PY" -c "import detectron2" 2>/dev/null; then
  d2_pin=$(pin sal-detectron2)
  echo "[install] installing Detectron2 from the registry wheel ($d2_pin)"
  tmp=$(mktemp -d)
  "$PY" -m pip download --disable-pip-version-check -q --no-deps --only-binary=:all: \
    --python-version 3.10 "$d2_pin" -d "$tmp"
  pip_install installer
  "$PY" -m installer "$tmp"/sal_detectron2-*.whl
  rm -rf "$tmp"
  # The wheel also installs Detectron2's scripts as a top-level `tools` package, which would
  # shadow this repository's tools/. Remove it.
  site=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
  rm -rf "$site/tools"
fi

echo "[install] installing prnet (editable, with dev extras)"
pip_install -e ".[dev]"
"$PY" -c "import detectron2, timm, torch, prnet; print('[install] ok: torch', torch.__version__, '| detectron2', detectron2.__version__, '| timm', timm.__version__)"
