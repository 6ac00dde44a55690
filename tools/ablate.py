#!/usr/bin/env python
"""Train a list of configs under one budget, several seeds, and tabulate them:
``prnet.experiments.ablation`` (``python tools/ablate.py --help``)."""
from prnet.experiments.ablation import main

if __name__ == "__main__":
    main()
