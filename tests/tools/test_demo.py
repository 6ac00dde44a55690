"""``make demo`` runs end to end (tiny overrides: 64 px data, 2 iterations)."""

import json
import os

import pytest

from prnet.checkpoint import read_checkpoint_metadata
from prnet.experiments import demo
from prnet.utils.testing import register_tiny_synthetic


def _run_demo(tmp_path, monkeypatch, export_error=None):
    train, val = register_tiny_synthetic(str(tmp_path / "data"), "demotest", image_size=64)
    if export_error is not None:
        def failing_export(*_, **__):
            raise export_error

        monkeypatch.setattr(demo, "export_model", failing_export)
    out = tmp_path / "out"
    metrics, status = demo.main(
        [
            "--output-dir", str(out),
            "--score-thresh", "0.0",
            "train.max_iter=2",
            "train.device=cpu",
            "model.max_detections_per_image=20",
            f"dataloader.train.dataset.names={train}",
            f"dataloader.test.dataset.names={val}",
            "dataloader.train.mapper.image_size=64",
            "dataloader.test.mapper.image_size=64",
            "dataloader.train.total_batch_size=2",
            "dataloader.train.num_workers=0",
            "dataloader.test.num_workers=0",
        ]
    )
    return metrics, status, out


def test_demo_runs(tmp_path, monkeypatch):
    metrics, status, out = _run_demo(tmp_path, monkeypatch)
    assert status == 0
    assert metrics["preset"] == "synthetic" and metrics["iterations"] == 2
    for weights in ("metrics_percent", "metrics_percent_raw"):  # EMA and raw weights
        for key in ("AP", "AP50", "APvt", "APt"):
            assert key in metrics[weights]
    assert json.loads((out / "demo_metrics.json").read_text()) == metrics
    assert (out / "demo_predictions.png").stat().st_size > 1000
    assert (out / "model_final.pth").is_file()
    assert metrics["onnx"]["verified"] and os.path.isfile(metrics["onnx"]["path"])
    # the checkpoint names the demo's config and overrides: `prnet val --weights` needs nothing else
    meta = read_checkpoint_metadata(out / "model_final.pth")
    assert meta["config_file"] == demo.CONFIG and "train.max_iter=2" in meta["overrides"]
    assert f"train.output_dir={out}" in meta["overrides"]


def test_failed_export_keeps_the_results_and_exits_non_zero(tmp_path, monkeypatch):
    error = AssertionError("image 0: 3 of 5 detections matched")
    metrics, status, out = _run_demo(tmp_path, monkeypatch, export_error=error)
    assert status == 1
    saved = json.loads((out / "demo_metrics.json").read_text())
    assert saved["onnx"] == {"path": metrics["onnx"]["path"], "verified": False,
                             "error": "image 0: 3 of 5 detections matched"}  # fmt: skip
    assert "AP50" in saved["metrics_percent"] and "AP50" in saved["metrics_percent_raw"]
    assert (out / "demo_predictions.png").stat().st_size > 1000


def test_demo_config_typo_is_refused(tmp_path, monkeypatch):
    with pytest.raises(SystemExit, match="error: invalid config:(.|\n)*max_iters"):
        demo.main(["--output-dir", str(tmp_path), "train.max_iters=2"])
