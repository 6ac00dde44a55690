#!/usr/bin/env python
"""INT8 accuracy of an exported model with OpenVINO and ONNX Runtime: ``prnet.cli.int8_accuracy``
(``python tools/int8_accuracy.py --help``)."""
from prnet.cli.int8_accuracy import main

if __name__ == "__main__":
    main()
