#!/usr/bin/env python
"""The optional Ultralytics YOLO11 peer, trained and scored like prnet rows:
``prnet.experiments.ultralytics_peer`` (``python tools/ultralytics_peer.py --help``)."""
from prnet.experiments.ultralytics_peer import main

if __name__ == "__main__":
    main()
