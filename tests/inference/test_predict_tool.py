"""tools/predict.py (``prnet.cli.predict``) in one process: images, a folder and a video -> results JSON and pictures;
sliced evaluation with a preset. PRNet-n at its initialisation, tiny synthetic data."""
import json
import os

import cv2
import numpy as np
import pytest

from prnet.cli import predict as tool
from prnet.utils.testing import register_tiny_val_split, repo_root

ROOT = repo_root()


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    return register_tiny_val_split(str(tmp_path_factory.mktemp("synth")), "synth_predict_tiny")


def test_predict_images_folder_video_and_sliced_eval(tmp_path, tiny_dataset):
    rng = np.random.default_rng(0)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(2):
        cv2.imwrite(str(folder / f"a{i}.png"), rng.integers(0, 256, (60, 90, 3), dtype=np.uint8))
    video = str(tmp_path / "clip.mp4")
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*"mp4v"), 5, (64, 48))
    for _ in range(3):
        writer.write(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    writer.release()
    common = ["--config-file", os.path.join(ROOT, "configs/PRNet/prnet_n.py"),
              "--image-size", "64", "--score-thresh", "0.0", "--max-det", "5"]
    out = tmp_path / "pred"
    result = tool.main(["--input", str(folder), video, "--output", str(out), *common, "model.num_classes=7"])
    results = json.load(open(result["results"]))
    names = {im["id"]: im["name"] for im in json.load(open(out / "images.json"))}
    assert sorted(names.values()) == ["a0", "a1", "clip_000000", "clip_000001", "clip_000002"]
    assert {r["image_id"] for r in results} <= set(names) and set(names) == {1, 2, 3, 4, 5}
    assert {"bbox", "score", "category_id"} <= set(results[0])
    assert sorted(os.listdir(out / "vis")) == ["a0.jpg", "a1.jpg", "clip.mp4"]
    sliced = tool.main(["--slice", "--tile-size", "64", "--overlap", "0.2", "--eval", tiny_dataset,
                        "--preset", "coco", "--output", str(tmp_path / "ev"), *common,
                        "model.num_classes=7"])
    assert "AP" in sliced["metrics"]["bbox"]
