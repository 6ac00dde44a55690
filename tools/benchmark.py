#!/usr/bin/env python
"""Latency and throughput of a prnet model on every runtime, as JSON: ``prnet.cli.benchmark``
(``python tools/benchmark.py --help``)."""
from prnet.cli.benchmark import main

if __name__ == "__main__":
    main()
