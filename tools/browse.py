#!/usr/bin/env python
"""Draw samples of a dataset with their boxes and write object-size histograms per AI-TOD bin:
``prnet.cli.browse`` (``python tools/browse.py --help``)."""
from prnet.cli.browse import main

if __name__ == "__main__":
    main()
