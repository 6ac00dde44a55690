"""Tests of the built-in synthetic aerial dataset (tiny images generated in tmp_path)."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os

import numpy as np
import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from prnet.data import synthetic
from prnet.data.synthetic import (
    DEFAULT_SPLITS,
    SYNTHETIC_CLASSES,
    generate_synthetic_aerial,
    register_synthetic_aerial,
    summarize,
)
from prnet.data.synthetic import layout, terrain
from prnet.data.synthetic.drawing import SS
from prnet.data.synthetic.generate import render_image
from prnet.data.synthetic.palettes import LOT
from prnet.data.synthetic.scene import Scene
from prnet.evaluation.presets import get_preset

SMALL = {"split": "tiny", "num_images": 4, "image_size": (192, 192), "progress": False}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """4 images of 192x192, seed 0: (root, json path, loaded json)."""
    root = tmp_path_factory.mktemp("synthetic")
    path = generate_synthetic_aerial(str(root), seed=0, **SMALL)
    with open(path, encoding="utf-8") as f:
        return root, path, json.load(f)


@pytest.fixture(scope="module")
def full_size():
    """2 scenes at the default 320x320: (image, annotations, ignore regions) each."""
    return [render_image(np.random.default_rng([7, i]), 320, 320) for i in range(2)]


def _files(root):
    out = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = os.path.join(dirpath, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, root)] = f.read()
    return out


def test_layout_and_return_value(small):
    root, path, data = small
    assert path == os.path.join(str(root), "annotations", "instances_tiny.json")
    names = sorted(os.listdir(root / "images" / "tiny"))
    assert names == [f"{i:06d}.png" for i in range(4)]
    assert [im["file_name"] for im in data["images"]] == names
    assert os.listdir(root / "annotations") == ["instances_tiny.json"]  # no temporary left


def test_same_seed_is_byte_identical_and_other_seed_differs(small, tmp_path):
    root, _, _ = small
    generate_synthetic_aerial(str(tmp_path / "again"), seed=0, **SMALL)
    assert _files(tmp_path / "again") == _files(root)
    generate_synthetic_aerial(str(tmp_path / "other"), seed=1, **SMALL)
    a, b = _files(root), _files(tmp_path / "other")
    assert a.keys() == b.keys()
    assert all(a[k] != b[k] for k in a)


def test_valid_coco_that_pycocotools_loads(small):
    _, path, data = small
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(path)
    cats = coco.loadCats(coco.getCatIds())
    assert [c["id"] for c in cats] == list(range(1, len(SYNTHETIC_CLASSES) + 1))
    assert tuple(c["name"] for c in cats) == SYNTHETIC_CLASSES
    assert len(coco.getImgIds()) == 4
    assert len(coco.getAnnIds()) == len(data["annotations"]) > 0
    ids = [a["id"] for a in data["annotations"]]
    assert len(set(ids)) == len(ids)


def test_boxes_inside_image_with_positive_size(small):
    _, _, data = small
    sizes = {im["id"]: (im["width"], im["height"]) for im in data["images"]}
    for a in data["annotations"]:
        x, y, w, h = a["bbox"]
        width, height = sizes[a["image_id"]]
        assert w > 0 and h > 0
        assert 0 <= x and 0 <= y and x + w <= width and y + h <= height
        assert a["area"] == pytest.approx(w * h)
        assert a["iscrowd"] == int(a["visibility"] < 0.5)
        assert 0 < a["visibility"] <= 1


def test_object_count_per_image(small, full_size):
    counts = [sum(1 for a in anns if not a["iscrowd"]) for _, anns, _ in full_size]
    assert all(20 <= c <= 200 for c in counts), counts
    assert all(c >= 40 * 0.75 for c in counts), counts  # density 40-160 per 320x320 image
    # small images are clipped up to the minimum of 20
    per_image = summarize(small[1])["objects_per_image"]
    assert 20 <= per_image["min"] <= per_image["max"] <= 200


def test_size_statistics_and_classes(small, full_size):
    sizes = [math.sqrt(a["bbox"][2] * a["bbox"][3]) for a in small[2]["annotations"]]
    sizes += [math.sqrt(a["bbox"][2] * a["bbox"][3]) for _, anns, _ in full_size for a in anns]
    sizes = np.array(sizes)
    assert (sizes < 12).mean() >= 0.4
    assert ((sizes >= 4) & (sizes <= 32)).mean() >= 0.85
    classes = {a["category_id"] for a in small[2]["annotations"]}
    classes |= {a["category_id"] for _, anns, _ in full_size for a in anns}
    assert len(classes) >= 6


def _overlaps(box, region) -> bool:
    x, y, w, h = box
    rx, ry, rw, rh = region
    return min(x + w, rx + rw) > max(x, rx) and min(y + h, ry + rh) > max(y, ry)


def test_ignore_regions_hold_no_labels(small):
    _, _, data = small
    scenes = [
        (im, [a for a in data["annotations"] if a["image_id"] == im["id"]]) for im in data["images"]
    ]
    for i in range(12):  # and a few more small scenes, straight from the renderer
        _, anns, regions = render_image(np.random.default_rng([11, i]), 128, 128)
        scenes.append(({"id": -i, "width": 128, "height": 128, "ignore_regions": regions}, anns))
    for im, anns in scenes:
        regions = im["ignore_regions"]
        assert 1 <= len(regions) <= 2
        for rx, ry, rw, rh in regions:
            assert rw > 0 and rh > 0 and rx + rw <= im["width"] and ry + rh <= im["height"]
        for a in anns:
            assert not any(_overlaps(a["bbox"], r) for r in regions), (im["id"], a, regions)


def test_ignore_regions_are_filled_with_unlabelled_objects():
    scene = Scene(np.random.default_rng([0, 5]), 192, 192)
    terrain.fields(scene)
    terrain.roads(scene)
    layout.ignore_regions(scene)
    assert scene.ignore and not scene.objects
    for x0, y0, x1, y1 in scene.ignore:
        assert scene.occupied[y0:y1, x0:x1].mean() > 0.1


def _single_car_scene(angle: float):
    scene = Scene(np.random.default_rng(3), 64, 64)
    scene.img[:] = 120.0
    scene.ground[:] = LOT
    assert scene.place(2, True, at=np.array([31.3, 30.6]), angle=angle) is not None
    return scene


@pytest.mark.parametrize("angle", [0.0, 0.5, 1.3])
def test_box_is_tight_on_the_rotated_shape(angle):
    scene = _single_car_scene(angle)
    (ann,) = scene.annotations()
    _, x0, y0, sprite = scene.objects[0]
    ys, xs = np.nonzero(sprite.alpha > 0)  # 1x pixels the object touches
    x, y, w, h = ann["bbox"]
    assert math.floor(x) == x0 + xs.min() and math.ceil(x + w) == x0 + xs.max() + 1
    assert math.floor(y) == y0 + ys.min() and math.ceil(y + h) == y0 + ys.max() + 1
    # and to a quarter pixel: the extent of the 4x supersampled shape
    ss = SS
    rows, cols = np.nonzero(sprite.mask)
    ex0, ey0, ex1, ey1 = sprite.extent  # the placement extent must cover the shape
    assert ex0 <= cols.min() / ss and (cols.max() + 1) / ss <= ex1
    assert ey0 <= rows.min() / ss and (rows.max() + 1) / ss <= ey1
    assert [x, y, x + w, y + h] == pytest.approx(
        [
            x0 + cols.min() / ss,
            y0 + rows.min() / ss,
            x0 + (cols.max() + 1) / ss,
            y0 + (rows.max() + 1) / ss,
        ]
    )
    assert ann["visibility"] == 1.0 and ann["iscrowd"] == 0 and ann["category_id"] == 3


def test_occlusion_shrinks_box_and_heavy_occlusion_becomes_crowd():
    scene = _single_car_scene(0.0)
    (full,) = scene.annotations()
    x, _, w, _ = full["bbox"]
    cut = round((x + 0.3 * w) * SS)
    scene.ids[:, :cut] = 0  # an occluder over the left 30 % of the car
    (part,) = scene.annotations()
    assert part["bbox"][0] == pytest.approx(cut / SS)
    assert part["bbox"][0] + part["bbox"][2] == pytest.approx(x + w)
    assert 0.5 <= part["visibility"] < 1 and part["iscrowd"] == 0
    scene.ids[:, : round((x + 0.8 * w) * SS)] = 0
    (hidden,) = scene.annotations()
    assert hidden["visibility"] < 0.5 and hidden["iscrowd"] == 1
    scene.ids[:] = 0
    assert scene.annotations() == []


def test_ground_truth_as_detections_scores_ap50_of_one(small):
    _, path, data = small
    dets = [
        {
            "image_id": a["image_id"],
            "category_id": a["category_id"],
            "bbox": a["bbox"],
            "score": 1.0,
        }
        for a in data["annotations"]
        if not a["iscrowd"]
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(path)
        ev = COCOeval(gt, gt.loadRes(dets), "bbox")
        ev.params.maxDets = [1, 100, 500]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert ev.stats[1] == pytest.approx(1.0)  # AP50


def test_summarize(small):
    _, path, data = small
    s = summarize(path)
    non_crowd = [a for a in data["annotations"] if not a["iscrowd"]]
    assert s["num_images"] == 4
    assert s["num_objects"] == len(non_crowd)
    assert s["num_crowd"] == len(data["annotations"]) - len(non_crowd)
    assert sum(s["per_class"].values()) == s["num_objects"]
    assert list(s["per_class"]) == list(SYNTHETIC_CLASSES)
    assert list(s["size_bins"]) == ["<8", "8-16", "16-32", ">=32"]
    assert sum(s["size_bins"].values()) == s["num_objects"]
    assert s["num_ignore_regions"] == sum(len(im["ignore_regions"]) for im in data["images"])
    tiny = sum(1 for a in non_crowd if a["bbox"][2] * a["bbox"][3] < 64)
    assert s["size_bins"]["<8"] == tiny


def test_idempotent_and_regenerates_on_new_parameters(tmp_path):
    kw = {"split": "idem", "num_images": 2, "image_size": (128, 128), "progress": False}
    path = generate_synthetic_aerial(str(tmp_path), seed=0, **kw)
    image = tmp_path / "images" / "idem" / "000000.png"
    past = 1_000_000_000
    os.utime(path, (past, past))
    os.utime(image, (past, past))
    assert generate_synthetic_aerial(str(tmp_path), seed=0, **kw) == path
    assert os.path.getmtime(path) == past and os.path.getmtime(image) == past
    generate_synthetic_aerial(str(tmp_path), seed=2, **kw)  # other parameters: rewritten
    assert os.path.getmtime(path) != past
    with open(path, encoding="utf-8") as f:
        assert json.load(f)["info"]["seed"] == 2
    os.remove(image)  # a missing image also triggers regeneration
    generate_synthetic_aerial(str(tmp_path), seed=2, **kw)
    assert image.exists()


@pytest.mark.parametrize(
    "kwargs",
    [{"split": "a/b"}, {"num_images": 0}, {"image_size": (32, 320)}, {"seed": -1}],
)
def test_bad_arguments_raise(tmp_path, kwargs):
    with pytest.raises(ValueError):
        generate_synthetic_aerial(str(tmp_path), **{"progress": False, **kwargs})


@pytest.fixture
def catalog_name():
    name = "synthetic_aerial_pytest_tiny"
    yield name
    for catalog in (DatasetCatalog, MetadataCatalog):
        if name in catalog.list():
            catalog.remove(name)


def test_registration_is_lazy_and_loads_ignore_regions(tmp_path, catalog_name):
    splits = {
        catalog_name: {
            "split": "reg",
            "num_images": 2,
            "image_size": (128, 128),
            "seed": 3,
            "progress": False,
        }
    }
    assert register_synthetic_aerial(str(tmp_path), splits) == [catalog_name]
    assert not (tmp_path / "annotations").exists()  # nothing generated until first use
    meta = MetadataCatalog.get(catalog_name)
    assert meta.thing_classes == list(SYNTHETIC_CLASSES)
    assert meta.evaluator_type == "prnet"
    assert meta.json_file == os.path.join(str(tmp_path), "annotations", "instances_reg.json")
    assert meta.image_root == os.path.join(str(tmp_path), "images", "reg")
    assert meta.thing_dataset_id_to_contiguous_id == {i + 1: i for i in range(7)}
    assert get_preset(meta.protocol).ignore_regions  # unlabelled objects in regions: no FP

    records = DatasetCatalog.get(catalog_name)
    assert len(records) == 2 and os.path.isfile(meta.json_file)
    for r in records:
        assert os.path.isfile(r["file_name"]) and (r["height"], r["width"]) == (128, 128)
        assert len(r["ignore_regions"]) >= 1
        for x0, y0, x1, y1 in r["ignore_regions"]:
            assert 0 <= x0 < x1 <= 128 and 0 <= y0 < y1 <= 128
        assert len(r["annotations"]) >= 20

    # re-registering the same name (even with other parameters) replaces it cleanly
    splits[catalog_name]["seed"] = 4
    splits[catalog_name]["split"] = "reg4"
    register_synthetic_aerial(str(tmp_path), splits)
    assert MetadataCatalog.get(catalog_name).image_root.endswith("reg4")
    assert len(DatasetCatalog.get(catalog_name)) == 2


def test_register_rejects_unknown_keys(tmp_path, catalog_name):
    with pytest.raises(ValueError, match="expected keys"):
        register_synthetic_aerial(str(tmp_path), {catalog_name: {"split": "x", "size": 3}})
    assert catalog_name not in DatasetCatalog.list()


def test_defaults(monkeypatch):
    assert set(DEFAULT_SPLITS) == {
        "synthetic_aerial_train",
        "synthetic_aerial_val",
        "synthetic_aerial_demo_train",
    }
    seeds = {cfg["seed"] for cfg in DEFAULT_SPLITS.values()}
    assert len(seeds) == 3  # every split has its own scenes
    monkeypatch.setenv("DETECTRON2_DATASETS", "/data/d2")
    assert synthetic.default_root() == os.path.join("/data/d2", "synthetic_aerial")
    monkeypatch.delenv("DETECTRON2_DATASETS")
    assert synthetic.default_root() == os.path.join("datasets", "synthetic_aerial")


def test_register_checks_every_split_before_registering_any(tmp_path, catalog_name):
    good = {"split": "ok", "num_images": 2, "image_size": (64, 64), "progress": False}
    with pytest.raises(ValueError, match="expected keys"):
        register_synthetic_aerial(str(tmp_path), {catalog_name: good, "other": {"size": 3}})
    assert catalog_name not in DatasetCatalog.list()


def test_public_api():
    assert synthetic.__all__ == [
        "DEFAULT_SPLITS",
        "SYNTHETIC_CLASSES",
        "SYNTHETIC_PROTOCOL",
        "default_root",
        "generate_synthetic_aerial",
        "register_synthetic_aerial",
        "summarize",
    ]
    assert all(hasattr(synthetic, name) for name in synthetic.__all__)
    assert synthetic.SYNTHETIC_PROTOCOL == "synthetic"
