#!/usr/bin/env python
"""Convert an Ultralytics checkpoint (YOLO11, the PRNet authors' weights) to prnet:
``prnet.cli.convert`` (``python tools/convert_ultralytics.py --help``)."""
from prnet.cli.convert import main

if __name__ == "__main__":
    main()
