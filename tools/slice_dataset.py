#!/usr/bin/env python
"""Cut a registered dataset into native-resolution tiles, registered as a new dataset:
``prnet.cli.slice_dataset`` (``python tools/slice_dataset.py --help``)."""
from prnet.cli.slice_dataset import main

if __name__ == "__main__":
    main()
