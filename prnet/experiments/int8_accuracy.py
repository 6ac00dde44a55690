"""What INT8 costs in accuracy: one float32 ONNX file (with its sidecar), quantised two ways
(OpenVINO + NNCF, ONNX Runtime static QDQ) with the same calibration images, every file scored
by the same evaluator on the same dataset. Writes ``int8_accuracy.json`` and ``int8_accuracy.md``.

``tools/int8_accuracy.py`` is its command line.
"""
from __future__ import annotations

import json
import logging
import os
import time

from prnet.export import convert_onnx_to_openvino, load_exported, openvino_unavailable_reason
from prnet.export.onnx_int8 import quantize_onnx_int8
from prnet.inference import Predictor, evaluate_predictor

__all__ = ["int8_accuracy", "format_table"]

logger = logging.getLogger(__name__)

METRICS = ("AP", "AP50", "APvt", "APt")


def _build_variants(onnx_path: str, out_dir: str, calib: dict) -> dict[str, str]:
    """name -> exported file: the float32 ONNX itself and its OpenVINO / ORT versions."""
    variants = {"onnxruntime fp32": onnx_path}
    if openvino_unavailable_reason("int8") is None:
        for precision in ("fp32", "int8"):
            path = os.path.join(out_dir, f"openvino_{precision}.xml")
            started = time.perf_counter()
            convert_onnx_to_openvino(onnx_path, path, precision=precision, **calib)
            logger.info("OpenVINO %s in %.0f s", precision, time.perf_counter() - started)
            variants[f"openvino {precision}"] = path
    else:
        logger.warning("skipping OpenVINO: %s", openvino_unavailable_reason("int8"))
    path = os.path.join(out_dir, "onnxruntime_int8.onnx")
    started = time.perf_counter()
    quantize_onnx_int8(onnx_path, path, **calib)
    logger.info("ONNX Runtime int8 in %.0f s", time.perf_counter() - started)
    variants["onnxruntime int8"] = path
    return variants


def int8_accuracy(
    onnx_path: str,
    dataset: str,
    calib_dataset: str,
    output_dir: str,
    preset: str = "coco",
    image_size: int = 640,
    calib_images: int = 64,
    batch_size: int = 8,
    limit: int | None = None,
) -> dict:
    """Quantise ``onnx_path`` with calibration images from ``calib_dataset`` (use a training
    split: calibrating on the test images would flatter INT8) and score every variant on
    ``dataset``. Returns the report written to ``output_dir/int8_accuracy.json``."""
    os.makedirs(output_dir, exist_ok=True)
    calib = dict(calib_dataset=calib_dataset, calib_images=calib_images, image_size=image_size)
    rows = {}
    for name, path in _build_variants(onnx_path, output_dir, calib).items():
        predictor = Predictor(load_exported(path), image_size, batch_size)
        result = evaluate_predictor(predictor, dataset, preset, limit=limit,
                                    output_dir=os.path.join(output_dir, name.replace(" ", "_")))  # fmt: skip
        rows[name] = {"file": os.path.basename(path), **{k: result["bbox"][k] for k in METRICS}}
        logger.info("%s: %s", name, {k: round(rows[name][k], 2) for k in METRICS})
    reference = {"openvino int8": "openvino fp32", "onnxruntime int8": "onnxruntime fp32"}
    for name, ref in reference.items():
        if name in rows and ref in rows:
            rows[name]["AP50_drop"] = rows[ref]["AP50"] - rows[name]["AP50"]
    report = dict(onnx=onnx_path, dataset=dataset, preset=preset, image_size=image_size,
                  calib_dataset=calib_dataset, calib_images=calib_images, limit=limit, rows=rows)  # fmt: skip
    with open(os.path.join(output_dir, "int8_accuracy.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    with open(os.path.join(output_dir, "int8_accuracy.md"), "w", encoding="utf-8") as f:
        f.write(format_table(report))
    return report


def format_table(report: dict) -> str:
    """The report as a Markdown table (AP in percent, AP50 drop against the same runtime's FP32)."""
    lines = [
        f"INT8 accuracy on `{report['dataset']}` (`{report['preset']}` preset, long side "
        f"{report['image_size']}); calibration: {report['calib_images']} images of "
        f"`{report['calib_dataset']}`.",
        "",
        "| runtime, precision | " + " | ".join(METRICS) + " | AP50 drop |",
        "|---|" + "---:|" * (len(METRICS) + 1),
    ]
    for name, row in report["rows"].items():
        drop = f"{row['AP50_drop']:.2f}" if "AP50_drop" in row else "-"
        lines.append(f"| {name} | " + " | ".join(f"{row[k]:.2f}" for k in METRICS) + f" | {drop} |")
    return "\n".join(lines) + "\n"
