"""INT8 ONNX by ONNX Runtime's static post-training quantisation (QDQ), the alternative to
OpenVINO + NNCF for CPUs: same calibration images (:mod:`prnet.export.calibration`), per-channel
INT8 weights, activations calibrated by min/max. Only convolutions and matrix products are
quantised; the decoding (DFL softmax, box arithmetic) and NMS stay in float32, where quantisation
would cost accuracy and save nothing.
"""
from __future__ import annotations

import json
import os
import tempfile

from .calibration import calibration_batches
from .metadata import metadata_path, read_metadata

__all__ = ["quantize_onnx_int8"]


class _CalibrationReader:
    """``onnxruntime.quantization.CalibrationDataReader``: one image per call, then ``None``."""

    def __init__(self, batches):
        self._batches = iter(batches)

    def get_next(self):
        batch = next(self._batches, None)
        return None if batch is None else {"images": batch.numpy()}

    def rewind(self):  # ORT >= 1.17 may call it; the data is consumed once
        pass


def quantize_onnx_int8(
    onnx_path: str,
    output: str,
    calib_dataset: str,
    calib_images: int = 64,
    image_size: int = 640,
) -> str:
    """``onnx_path`` (float32, with its sidecar) -> static INT8 QDQ ONNX ``output`` + sidecar
    (format ``onnx``, precision ``int8``), calibrated on ``calib_images`` images of the registered
    ``calib_dataset`` resized to ``image_size``."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    meta = read_metadata(onnx_path)
    batches = calibration_batches(
        calib_dataset, calib_images, image_size, batch_size=1, pad_value=meta["pixel_mean"]
    )
    with tempfile.TemporaryDirectory() as tmp:
        prepared = os.path.join(tmp, "prepared.onnx")
        # shape inference and graph clean-up, as ONNX Runtime recommends before quantising
        quant_pre_process(onnx_path, prepared, skip_symbolic_shape=True)
        quantize_static(
            prepared,
            output,
            _CalibrationReader(batches),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["Conv", "MatMul"],
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
    meta.update(precision="int8", quantizer="onnxruntime", source_onnx=os.path.basename(onnx_path),
                calib_dataset=calib_dataset, calib_images=calib_images)  # fmt: skip
    with open(metadata_path(output), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
    return output
