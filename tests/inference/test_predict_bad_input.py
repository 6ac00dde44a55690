"""Prediction on bad or awkward input (docs/bad_data.md, "Prediction"): unreadable files are
skipped and counted, ids and pictures stay unique, huge frames are drawn shrunk, sliced prediction
keeps one batch of tiles and linear-memory merging. PRNet-n at its initialisation, tiny images."""
import inspect
import json
import logging
import os
import subprocess
import sys
import weakref

import cv2
import numpy as np
import pytest
import torch
from detectron2.structures import Boxes, Instances, pairwise_ioa, pairwise_iou
from PIL import ImageFile

from prnet.cli import predict as tool
from prnet.data.image_io import ImageReadError, read_image_rgb
from prnet.inference import SlicedPredictor, merge_detections, tile_grid
from prnet.inference.sources import draw_instances, expand_sources, image_ids, iter_sources
from prnet.utils.testing import repo_root

ROOT = repo_root()
MODEL = ["--config-file", os.path.join(ROOT, "configs/PRNet/prnet_n.py"), "--image-size", "64",
         "--score-thresh", "0.0", "--max-det", "5"]  # fmt: skip


def write_image(path, h=48, w=64, seed=0):
    image = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), image)


def write_video(path, frames, fps):
    """A small MJPG clip of random 64x48 frames."""
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (64, 48))
    for _ in range(frames):
        writer.write(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    writer.release()


def write_truncated_jpeg(path):
    write_image(path, 120, 160)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_truncated_jpeg_is_an_error_not_a_half_decoded_image(tmp_path):
    bad = tmp_path / "cut.jpg"
    write_truncated_jpeg(bad)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # prnet.cli.predict is imported: still off
    with pytest.raises(ImageReadError, match="truncated or corrupt") as e:
        read_image_rgb(bad)
    assert e.value.path == str(bad)
    with pytest.raises(ImageReadError):  # without a handler, iter_sources fails on it too
        list(iter_sources([str(bad)]))


def test_unreadable_files_are_skipped_counted_and_listed(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    write_image(folder / "a.jpg")
    write_image(folder / "b.png", seed=1)
    write_truncated_jpeg(folder / "c.jpg")
    (folder / "d.mp4").write_bytes(b"not a video")
    (folder / "e.png").write_bytes(b"not an image")
    out = tmp_path / "out"
    result = tool.main(["--input", str(folder), "--output", str(out), *MODEL])
    assert result["num_images"] == 2
    results = json.load(open(out / "results.json"))
    images = json.load(open(out / "images.json"))
    assert [(im["id"], im["name"]) for im in images] == [(1, "a"), (2, "b")]
    assert {r["image_id"] for r in results} <= {1, 2}  # integers, as pycocotools and SAHI need
    skipped = json.load(open(out / "skipped.json"))
    assert [os.path.basename(s["file"]) for s in skipped] == ["c.jpg", "d.mp4", "e.png"]
    reasons = [s["reason"] for s in skipped]
    assert "truncated or corrupt" in reasons[0] and "cannot open the video" in reasons[1]
    assert "not an image Pillow can identify" in reasons[2]
    assert sorted(os.listdir(out / "vis")) == ["a.jpg", "b.jpg"]
    assert "2 images predicted, 3 unreadable: " in capsys.readouterr().out


def test_nothing_readable_exits_non_zero_after_writing_reports(tmp_path):
    write_truncated_jpeg(tmp_path / "only.jpg")
    out = tmp_path / "out"
    with pytest.raises(SystemExit, match="no input could be read") as e:
        tool.main(["--input", str(tmp_path / "only.jpg"), "--output", str(out), *MODEL])
    assert e.value.code not in (0, None)
    assert json.load(open(out / "results.json")) == []
    assert len(json.load(open(out / "skipped.json"))) == 1
    with pytest.raises(SystemExit, match="no such file"):  # usage error, before building a model
        tool.main(["--input", str(tmp_path / "missing.jpg"), *MODEL])
    with pytest.raises(SystemExit):  # argparse: "must be a positive integer"
        tool.get_parser().parse_args(["--video-stride", "0"])


def test_truncated_video_is_predicted_up_to_the_cut_with_a_warning(tmp_path, caplog):
    path = tmp_path / "clip.avi"
    write_video(path, 10, 5)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6)])
    logger = logging.getLogger("prnet")  # detectron2's setup_logger stops its propagation
    logger.addHandler(caplog.handler)
    try:
        frames = list(iter_sources([str(path)]))
    finally:
        logger.removeHandler(caplog.handler)
    assert 0 < len(frames) < 10 and frames[0].image_id == "clip_000000"
    assert f"decoded {len(frames)} of 10 frames" in caplog.text


def test_same_stem_gets_two_ids_and_two_pictures(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    write_image(folder / "a.jpg")
    write_image(folder / "a.png", seed=1)
    write_image(folder / "b.jpg", seed=2)
    out = tmp_path / "out"
    tool.main(["--input", str(folder), "--output", str(out), *MODEL])
    images = json.load(open(out / "images.json"))
    assert [im["name"] for im in images] == ["a.jpg", "a.png", "b"]
    assert [im["id"] for im in images] == [1, 2, 3]
    results = json.load(open(out / "results.json"))
    assert all(isinstance(r["image_id"], int) for r in results)
    assert sorted(os.listdir(out / "vis")) == ["a.jpg.jpg", "a.png.jpg", "b.jpg"]


def test_image_ids_are_unique_and_do_not_depend_on_order(tmp_path):
    files = [str(tmp_path / p) for p in ("d1/a.jpg", "d2/a.jpg", "d1/b.png", "d1/b.tif",
                                         "d1/c.jpg", "d1/clip.mp4", "d1/clip_000003.jpg")]  # fmt: skip
    ids = image_ids(files)
    assert ids == {
        files[0]: "d1/a.jpg",  # same name in two folders: relative path
        files[1]: "d2/a.jpg",
        files[2]: "b.png",  # same stem: file name
        files[3]: "b.tif",
        files[4]: "c",  # unique stem: the stem, as before
        files[5]: "clip.mp4",  # its frame "clip_000003" would be the picture's id
        files[6]: "clip_000003.jpg",
    }
    assert image_ids(files[::-1]) == ids
    (tmp_path / "d3").mkdir()
    write_image(tmp_path / "d3" / "x.jpg")  # a file named alone and inside its folder: once
    assert expand_sources([str(tmp_path / "d3"), str(tmp_path / "d3" / "x.jpg")]) == [
        str(tmp_path / "d3" / "x.jpg")
    ]


def test_drawing_is_capped_and_boxes_scaled():
    image = np.zeros((300, 200, 3), dtype=np.uint8)
    det = Instances((300, 200))
    det.pred_boxes = Boxes(torch.tensor([[60.0, 90.0, 180.0, 240.0]]))
    det.scores = torch.tensor([0.9])
    det.pred_classes = torch.tensor([0])
    assert draw_instances(image, det, max_size=None).shape == (300, 200, 3)
    assert draw_instances(image, det).shape == (300, 200, 3)  # under the default cap: untouched
    small = draw_instances(image, det, max_size=150)
    assert small.shape == (150, 100, 3)
    changed = small.any(2)
    assert changed[50:115, 29:32].any(1).all()  # left edge of the box, x = 60 / 2
    assert not changed[125:, :].any() and not changed[:, 95:].any()  # nothing past the box
    torch.testing.assert_close(det.pred_boxes.tensor, torch.tensor([[60.0, 90.0, 180.0, 240.0]]))


class RecordingPredictor:
    """Predictor stand-in: records each call and checks that the tiles of earlier calls are freed."""

    image_size, rules = 64, {"max_det": 10}

    def __init__(self):
        self.calls, self.alive = [], []

    def __call__(self, images):
        single = isinstance(images, np.ndarray)
        batch = [images] if single else list(images)
        assert not any(ref() is not None for ref in self.alive), "earlier tiles still in memory"
        self.calls.append([im.shape[:2] for im in batch])
        self.alive = [weakref.ref(im) for im in batch] if not single else []
        out = []
        for im in batch:
            r = Instances(im.shape[:2])
            r.pred_boxes = Boxes(torch.tensor([[1.0, 1.0, 9.0, 9.0]]))
            r.scores, r.pred_classes = torch.tensor([0.5]), torch.tensor([0])
            out.append(r)
        return out[0] if single else out


def test_tiles_are_cut_one_batch_at_a_time():
    image = np.zeros((300, 400, 3), dtype=np.uint8)
    stub = RecordingPredictor()
    raw = SlicedPredictor(stub, 64, 0.2, tile_batch=3).predict_tiles(image)
    tiles = tile_grid(300, 400, 64, 0.2)
    tile_calls, full_call = stub.calls[:-1], stub.calls[-1]
    assert all(1 <= len(c) <= 3 and all(s == (64, 64) for s in c) for c in tile_calls)
    assert sum(map(len, tile_calls)) == len(tiles) and full_call == [(300, 400)]
    assert len(raw) == len(tiles) + 1


def _reference_greedy(boxes, scores, thresh, metric):
    """The merge as it was, on the full N x N match matrix (for the equality test)."""
    order = scores.argsort(descending=True)
    boxes = boxes[order]
    a = Boxes(boxes)
    if metric == "ios":
        match = torch.maximum(pairwise_ioa(a, a), pairwise_ioa(a, a).T)
    else:
        match = pairwise_iou(a, a)
    taken = torch.zeros(len(boxes), dtype=torch.bool)
    leaders, merged = [], []
    for i in range(len(boxes)):
        if taken[i]:
            continue
        members = (~taken) & (match[i] > thresh)
        members[i] = True
        taken |= members
        group = boxes[members]
        merged.append(torch.cat((group[:, :2].min(0).values, group[:, 2:].max(0).values)))
        leaders.append(order[i])
    return torch.stack(leaders), torch.stack(merged)


def clustered_boxes(n, clusters, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.rand(clusters, 2, generator=g) * 1000
    xy = centres[torch.randint(clusters, (n,), generator=g)] + torch.randn(n, 2, generator=g) * 4
    wh = 5 + torch.rand(n, 2, generator=g) * 20
    scores = torch.rand(n, generator=g).round(decimals=2)  # ties, as detectors produce them
    return torch.cat((xy, xy + wh), 1), scores


@pytest.mark.parametrize("metric", ["ios", "iou"])
@pytest.mark.parametrize("thresh", [0.1, 0.5])
def test_greedy_merge_equals_full_matrix_merge(metric, thresh):
    boxes, scores = clustered_boxes(400, 40)
    classes = torch.randint(3, (400,), generator=torch.Generator().manual_seed(1))
    det = Instances((1100, 1100), pred_boxes=Boxes(boxes), scores=scores, pred_classes=classes)
    out = merge_detections(det, "greedy", thresh, metric)
    ref_keep, ref_boxes = [], []
    for c in classes.unique().tolist():
        idx = (classes == c).nonzero(as_tuple=True)[0]
        leaders, merged = _reference_greedy(boxes[idx], scores[idx], thresh, metric)
        ref_keep.append(idx[leaders])
        ref_boxes.append(merged)
    keep, ref = torch.cat(ref_keep), torch.cat(ref_boxes)
    order = scores[keep].argsort(descending=True)
    assert torch.equal(out.pred_boxes.tensor, ref[order])
    assert torch.equal(out.scores, scores[keep][order])
    assert torch.equal(out.pred_classes, classes[keep][order])


def test_greedy_merge_memory_is_linear_in_the_boxes():
    # 8000 boxes of one class (a 10000 px frame gives ~18000): the N x N tensors of the old merge
    # took > 1 GB at once; merging row by row needs a few MB on top of the imports.
    setup = inspect.getsource(clustered_boxes)
    code = setup + (
        "import resource, torch\n"
        "from detectron2.structures import Boxes, Instances\n"
        "from prnet.inference import merge_detections\n"
        "boxes, scores = clustered_boxes(8000, 400)\n"
        "det = Instances((1100, 1100), pred_boxes=Boxes(boxes), scores=scores,\n"
        "                pred_classes=torch.zeros(8000, dtype=torch.int64))\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "merge_detections(det, 'greedy', 0.5, 'ios')\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True)  # fmt: skip
    assert int(run.stdout.split()[-1]) < 200  # MB of peak growth


def test_video_keeps_its_frame_rate_over_the_stride(tmp_path):
    path = tmp_path / "clip.avi"
    write_video(path, 6, 10)
    out = tmp_path / "out"
    tool.main(["--input", str(path), "--output", str(out), "--video-stride", "2", *MODEL])
    drawn = cv2.VideoCapture(str(out / "vis" / "clip.mp4"))
    assert drawn.get(cv2.CAP_PROP_FPS) == pytest.approx(5.0)  # 10 fps, every 2nd frame
    assert int(drawn.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    images = json.load(open(out / "images.json"))
    assert [(im["id"], im["name"], im["frame"]) for im in images] == [
        (1, "clip_000000", 0), (2, "clip_000002", 2), (3, "clip_000004", 4)
    ]  # fmt: skip


def test_undefined_metrics_print_as_null():
    from prnet.evaluation import report_to_json

    text = report_to_json({"bbox": {"AP": float("nan"), "APvt": np.float32("nan"), "AP50": 1.5}})
    assert json.loads(text) == {"bbox": {"AP": None, "APvt": None, "AP50": 1.5}}
    assert "NaN" not in text


def test_thin_style_leaves_a_tiny_object_visible():
    """``style="thin"``: a 1-px outline around a 10-px object, its inside untouched (Detectron2's
    label box would cover it), the scaled box drawn where the cap puts it."""
    image = np.full((120, 160, 3), 50, dtype=np.uint8)
    det = Instances((120, 160))
    det.pred_boxes = Boxes(torch.tensor([[40.0, 50.0, 50.0, 60.0]]))
    det.scores = torch.tensor([0.9])
    det.pred_classes = torch.tensor([1])
    drawn = draw_instances(image, det, ["car", "truck"], style="thin")
    assert drawn.shape == image.shape
    assert (drawn[51:60, 41:50] == 50).all()  # the object itself
    assert (drawn[50, 40:51] != 50).any(1).all() and (drawn[50:61, 40] != 50).any(1).all()
    colours = {tuple(c) for c in drawn[50, 40:51]}
    assert len(colours) == 1  # one class colour
    labelled = draw_instances(image, det, ["car", "truck"])
    assert (labelled[51:60, 41:50] != 50).any()  # the Visualizer's label box covers it
    half = draw_instances(image, det, ["car", "truck"], max_size=80, style="thin")
    assert half.shape == (60, 80, 3) and (half[25, 20:26] != 50).any(1).all()
    with pytest.raises(ValueError, match="style"):
        draw_instances(image, det, style="bold")
