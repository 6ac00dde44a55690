"""``make demo`` runs end to end (tiny overrides: 64 px data, 2 iterations)."""

import json
import os

from prnet.utils.testing import load_tool, register_tiny_synthetic, repo_root


def test_demo_runs(tmp_path, monkeypatch):
    train, val = register_tiny_synthetic(str(tmp_path / "data"), "demotest", image_size=64)
    # as when run as a script: tools/ is on sys.path, so the demo imports the training tool
    monkeypatch.syspath_prepend(os.path.join(repo_root(), "tools"))
    demo = load_tool("demo")
    out = tmp_path / "out"
    metrics = demo.main(
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
    assert metrics["preset"] == "synthetic" and metrics["iterations"] == 2
    for key in ("AP", "AP50", "APvt", "APt"):
        assert key in metrics["metrics_percent"]
    assert json.loads((out / "demo_metrics.json").read_text()) == metrics
    assert (out / "demo_predictions.png").stat().st_size > 1000
    assert (out / "model_final.pth").is_file()
