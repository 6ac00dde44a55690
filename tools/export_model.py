#!/usr/bin/env python
"""Export a PRNet model to TorchScript, ONNX or TensorRT and verify it: ``prnet.cli.export``
(``python tools/export_model.py --help``)."""
from prnet.cli.export import main

if __name__ == "__main__":
    main()
