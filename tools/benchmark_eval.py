#!/usr/bin/env python
"""faster-coco-eval against pycocotools on a VisDrone-val-sized input, as JSON:
``prnet.experiments.scorer_benchmark`` (``python tools/benchmark_eval.py --help``)."""
from prnet.experiments.scorer_benchmark import main

if __name__ == "__main__":
    main()
