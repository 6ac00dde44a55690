#!/usr/bin/env python
"""Predict with PRNet (eager or exported) on images, folders and videos: ``prnet.cli.predict``
(``python tools/predict.py --help``)."""
from prnet.cli.predict import main

if __name__ == "__main__":
    main()
