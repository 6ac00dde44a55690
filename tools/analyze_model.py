#!/usr/bin/env python
"""Parameters and GFLOPs of any prnet config: ``prnet.cli.analyze`` (``python
tools/analyze_model.py --help``)."""
from prnet.cli.analyze import main

if __name__ == "__main__":
    main()
