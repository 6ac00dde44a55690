#!/usr/bin/env python
"""``make demo``: train PRNet-n on the built-in synthetic aerial set on CPU, evaluate, export,
draw: ``prnet.experiments.demo`` (``python tools/demo.py --help``). Exits 1 only when the exported
model computes something else than PyTorch."""
import sys

from prnet.experiments.demo import main

if __name__ == "__main__":
    sys.exit(main()[1])
