"""The optional Ultralytics peer (``prnet.experiments.ultralytics_peer``): its YOLO-format export (no
``ultralytics`` needed), one tiny end-to-end run (skipped without ``ultralytics``), and the rule
that the ``prnet`` library never imports ``ultralytics``."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode

from prnet.experiments import ultralytics_peer as peer
from prnet.utils.testing import register_tiny_synthetic, repo_root


def _read_labels(path):
    with open(path, encoding="utf-8") as f:
        return [[float(v) for v in line.split()] for line in f if line.strip()]


def test_export_split_normalises_and_skips_crowd(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ultralytics", None)  # any import of it would fail
    image = tmp_path / "scene.png"
    image.write_bytes(b"")  # only linked, never read (height/width are in the record)
    records = [
        {
            "file_name": str(image),
            "image_id": 7,
            "height": 50,
            "width": 100,
            "annotations": [
                {"bbox": [10, 20, 30, 10], "bbox_mode": BoxMode.XYWH_ABS, "category_id": 2,
                 "iscrowd": 0},
                {"bbox": [0, 0, 5, 5], "bbox_mode": BoxMode.XYWH_ABS, "category_id": 1,
                 "iscrowd": 1},
                # XYXY, partly outside the image: clipped to [90, 40, 100, 50]
                {"bbox": [90, 40, 120, 60], "bbox_mode": BoxMode.XYXY_ABS, "category_id": 0},
                # entirely outside: nothing left after clipping
                {"bbox": [200, 10, 5, 5], "bbox_mode": BoxMode.XYWH_ABS, "category_id": 0},
            ],
        },
        {"file_name": str(image), "image_id": 8, "height": 50, "width": 100, "annotations": []},
    ]
    stats = peer.export_split(records, str(tmp_path / "yolo"), "train", num_classes=3)
    assert stats == {"images": 2, "boxes": 2, "skipped_crowd": 1, "skipped_empty": 1}
    images = sorted(os.listdir(tmp_path / "yolo" / "images" / "train"))
    assert images == ["0000000.png", "0000001.png"]  # record order, no name collisions
    assert os.path.realpath(tmp_path / "yolo" / "images" / "train" / images[0]) == str(image)
    labels = _read_labels(tmp_path / "yolo" / "labels" / "train" / "0000000.txt")
    expected = [[2, 0.25, 0.5, 0.3, 0.2], [0, 0.95, 0.9, 0.1, 0.2]]
    torch.testing.assert_close(
        torch.tensor(labels, dtype=torch.float64), torch.tensor(expected, dtype=torch.float64)
    )
    assert _read_labels(tmp_path / "yolo" / "labels" / "train" / "0000001.txt") == []


def test_export_registered_synthetic(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ultralytics", None)
    train, val = register_tiny_synthetic(str(tmp_path / "data"), "peer_export", image_size=64)
    out = peer.export_yolo_dataset(train, val, str(tmp_path / "out"))

    with open(out["data_yaml"], encoding="utf-8") as f:
        data = json.load(f)  # written as JSON, which is YAML
    names = list(MetadataCatalog.get(train).thing_classes)
    assert data["names"] == names  # index = contiguous class id
    assert data["path"] == out["root"]
    assert (data["train"], data["val"]) == ("images/train", "images/val")
    for split, name in (("train", train), ("val", val)):
        records = DatasetCatalog.get(name)
        crowd = sum(a.get("iscrowd", 0) for r in records for a in r["annotations"])
        boxes = sum(len(r["annotations"]) for r in records) - crowd
        assert out[split]["images"] == len(records)
        assert out[split]["skipped_crowd"] == crowd
        assert out[split]["boxes"] + out[split]["skipped_empty"] == boxes
        for i, record in enumerate(records):
            link = os.path.join(out["root"], "images", split, f"{i:07d}.png")
            assert os.path.realpath(link) == os.path.realpath(record["file_name"])
            labels = _read_labels(os.path.join(out["root"], "labels", split, f"{i:07d}.txt"))
            expected = [a for a in record["annotations"] if not a.get("iscrowd", 0)]
            assert len(labels) == len(expected)
            for row, ann in zip(labels, expected):
                x, y, w, h = BoxMode.convert(ann["bbox"], ann["bbox_mode"], BoxMode.XYWH_ABS)
                assert row[0] == ann["category_id"]
                torch.testing.assert_close(
                    torch.tensor(row[1:], dtype=torch.float64),
                    torch.tensor([(x + w / 2) / record["width"], (y + h / 2) / record["height"],
                                  w / record["width"], h / record["height"]], dtype=torch.float64),
                    rtol=0, atol=2e-6,
                )  # fmt: skip
                assert all(0.0 <= v <= 1.0 for v in row[1:])
    # ultralytics caches labels per folder; a second export over the same folder must not fail
    peer.export_yolo_dataset(train, val, str(tmp_path / "out"))


def test_library_never_imports_ultralytics():
    code = textwrap.dedent(
        """
        import importlib, pkgutil, sys
        import prnet
        failed = []
        for info in pkgutil.walk_packages(prnet.__path__, "prnet."):
            try:
                importlib.import_module(info.name)
            except Exception as e:  # optional backends (TensorRT, ...) may be missing here
                failed.append(f"{info.name}: {type(e).__name__}")
        import prnet.experiments.ultralytics_peer  # imports ultralytics only inside functions
        leaked = sorted(m for m in sys.modules if m.split(".")[0] == "ultralytics")
        assert not leaked, leaked
        print("ok", len(failed), failed)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=repo_root(), capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("ok")


def test_yolo11n_end_to_end(tmp_path):
    pytest.importorskip("ultralytics", reason="optional peer: pip install ultralytics")
    train, val = register_tiny_synthetic(str(tmp_path / "data"), "peer_e2e", image_size=64)
    result = peer.train_and_evaluate(
        "yolo11n", train, val, image_size=64, test_image_size=64, epochs=1, batch=2,
        output_dir=str(tmp_path / "out"), preset="synthetic", latency_size=64, workers=0,
    )  # fmt: skip
    assert result["name"] == "yolo11n" and result["recipe"] == peer.recipe(1)
    assert "no mosaic" in result["recipe"]
    assert 2_000_000 < result["params"] < 3_000_000  # YOLO11n: about 2.6 M
    assert result["gflops"] > 0 and result["latency_ms"] > 0 and result["train_seconds"] > 0
    assert set(result["metrics"]) == {"AP", "AP50", "APvt", "APt", "APs"}
    for value in result["metrics"].values():
        assert isinstance(value, float)
        assert value != value or 0.0 <= value <= 100.0  # NaN where a bin has no ground truth
    assert (tmp_path / "out" / "eval" / "metrics.json").is_file()
    assert (tmp_path / "out" / "train" / "weights" / "last.pt").is_file()
    saved = json.loads((tmp_path / "out" / "result.json").read_text())
    assert saved["params"] == result["params"]
    assert saved["train_call_seconds"] >= result["train_seconds"]
