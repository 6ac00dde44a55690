#!/usr/bin/env python
"""prnet's sliced prediction against SAHI's on the same model and frame:
``prnet.cli.benchmark_slicing`` (``python tools/benchmark_slicing.py --help``)."""
from prnet.cli.benchmark_slicing import main

if __name__ == "__main__":
    main()
