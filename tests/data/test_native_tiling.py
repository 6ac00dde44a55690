"""The offline slicer (prnet.data.slice_dataset) on a generated 2000x1500 frame: tiles map back to
the original boxes, border cuts follow the minimum box rule, ignore regions and crowd boxes are
kept, and the result is a registered dataset that passes prnet's checks."""

from __future__ import annotations

import ast
import json

import cv2
import numpy as np
import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode

from prnet.data import check_dataset_dicts, register_coco_with_ignore, slice_dataset
from prnet.data.tiling import register_sliced_dataset, sliced_dataset_dicts, tile_targets
from prnet.inference.slicing import tile_grid

W, H = 2000, 1500
CLASSES = ["car", "person"]
# XYWH boxes at known places (10 px objects, one on the first tile border, one large) and classes
BOXES = [[100, 100, 10, 10], [505, 300, 10, 10], [630, 40, 10, 10], [1990, 1490, 10, 10],
         [1000, 700, 12, 8], [1500, 200, 60, 40]]  # fmt: skip
CLASS_IDS = [1, 2, 1, 2, 1, 1]  # dataset ids (category ids 1 and 2)
CROWD = [1200, 1200, 30, 30]
IGNORE = [0, 1300, 700, 200]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiling")
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, size=(H, W, 3), dtype=np.uint8)  # every tile's pixels distinct
    cv2.imwrite(str(root / "frame.png"), image[:, :, ::-1])
    annotations = [
        {"id": i + 1, "image_id": 7, "category_id": c, "bbox": b, "area": b[2] * b[3], "iscrowd": 0}
        for i, (b, c) in enumerate(zip(BOXES, CLASS_IDS))
    ]
    annotations.append({"id": 99, "image_id": 7, "category_id": 1, "bbox": CROWD, "area": 900,
                        "iscrowd": 1})  # fmt: skip
    coco = {
        "images": [{"id": 7, "file_name": "frame.png", "width": W, "height": H,
                    "ignore_regions": [IGNORE]}],  # fmt: skip
        "annotations": annotations,
        "categories": [{"id": i + 1, "name": n} for i, n in enumerate(CLASSES)],
    }
    (root / "frame.json").write_text(json.dumps(coco))
    name = "native_tiling_src"
    if name not in DatasetCatalog.list():
        register_coco_with_ignore(name, {}, root / "frame.json", root)
    return name, image, root


def _xyxy(box):
    x, y, w, h = box
    return np.array([x, y, x + w, y + h], np.float32)


def test_tiles_map_back_to_the_original_boxes(source, tmp_path):
    name, image, _ = source
    new = slice_dataset(name, tmp_path / "tiles", tile_size=640, overlap=0.2, progress=False)
    assert new == f"{name}_tiles"
    assert MetadataCatalog.get(new).thing_classes == CLASSES
    records = DatasetCatalog.get(new)
    assert len(records) == len(tile_grid(H, W, 640, 0.2)) == 12  # keep_empty=1: every tile
    check_dataset_dicts(records, num_classes=len(CLASSES), images="full").raise_if_errors()
    coco = json.loads((tmp_path / "tiles" / f"{new}.json").read_text())
    tiles = {img["id"]: img["tile"] for img in coco["images"]}
    whole = {i: 0 for i in range(len(BOXES))}
    for record in records:
        x0, y0, x1, y1 = tiles[record["image_id"]]
        pixels = cv2.imread(record["file_name"])[:, :, ::-1]
        np.testing.assert_array_equal(pixels, image[y0:y1, x0:x1])  # PNG in, PNG out: lossless
        for anno in record["annotations"]:
            box = BoxMode.convert(anno["bbox"], anno["bbox_mode"], BoxMode.XYXY_ABS)
            back = np.array(box) + [x0, y0, x0, y0]
            if anno.get("iscrowd"):
                np.testing.assert_allclose(back, np.clip(_xyxy(CROWD), [x0, y0] * 2, [x1, y1] * 2))
                continue
            # every tile box is a (possibly cut) original box of the same class
            inside = [i for i, b in enumerate(BOXES) if (back[:2] >= _xyxy(b)[:2] - 1e-3).all()
                      and (back[2:] <= _xyxy(b)[2:] + 1e-3).all()]  # fmt: skip
            assert inside, back
            assert anno["category_id"] == CLASS_IDS[inside[0]] - 1
            for i in inside:
                whole[i] += bool(np.allclose(back, _xyxy(BOXES[i]), atol=1e-3))
    # every box smaller than the overlap (128 px) is whole in at least one tile
    assert all(count >= 1 for count in whole.values()), whole
    # the ignore region, cut by each tile it touches, maps back inside the original
    regions = [(r, tiles[rec["image_id"]]) for rec in records for r in rec["ignore_regions"]]
    assert len(regions) >= 2
    for r, (x0, y0, x1, y1) in regions:
        back = np.array(r) + [x0, y0, x0, y0]
        expected = np.clip(_xyxy(IGNORE), [x0, y0] * 2, [x1, y1] * 2)
        np.testing.assert_allclose(back, expected)


def test_border_cuts_follow_the_minimum_box_rule():
    boxes = np.array([[630, 40, 645, 50], [638.5, 0, 650, 10], [600, 0, 700, 10]], np.float32)
    clipped, keep = tile_targets(boxes, (0, 0, 640, 640))
    # 10 of 15 px left: kept; 1.5 px left: dropped (< 2 px); 40 of 100 px: kept
    assert keep.tolist() == [True, False, True]
    np.testing.assert_allclose(clipped[0], [630, 40, 640, 50])
    _, keep = tile_targets(boxes[2:], (0, 0, 605, 640))  # 5 of 100 px: under 10 % visible
    assert keep.tolist() == [False]


def test_empty_tiles_kept_at_a_ratio_and_reregistered_from_the_json(source, tmp_path):
    name, _, _ = source
    out = tmp_path / "few"
    new = slice_dataset(name, out, 640, 0.2, new_name="native_tiling_few", keep_empty=0.0,
                        image_format="jpg", progress=False)  # fmt: skip
    records = DatasetCatalog.get(new)
    assert 0 < len(records) < 12
    assert all(any(not a.get("iscrowd") for a in r["annotations"]) for r in records)
    assert all(r["file_name"].endswith(".jpg") for r in records)
    # another process registers it from the json alone
    DatasetCatalog.remove(new)
    MetadataCatalog.remove(new)
    assert register_sliced_dataset(out / f"{new}.json") == new
    assert len(DatasetCatalog.get(new)) == len(records)
    assert len(sliced_dataset_dicts(str(out / f"{new}.json"))) == len(records)  # from a config
    assert MetadataCatalog.get(new).thing_classes == CLASSES


def test_bad_arguments(source, tmp_path):
    name, _, root = source
    with pytest.raises(ValueError, match="keep_empty"):
        slice_dataset(name, tmp_path, keep_empty=2.0)
    with pytest.raises(ValueError, match="info.prnet_tiles"):
        register_sliced_dataset(root / "frame.json")


def test_command_line_slices_an_unregistered_coco_set(source, tmp_path, capsys):
    from prnet.cli import slice_dataset as cli

    _, _, root = source
    argv = ["native_tiling_cli", "--coco-json", str(root / "frame.json"), "--image-root", str(root),
            "--output", str(tmp_path), "--tile-size", "1000", "--overlap", "0"]  # fmt: skip
    assert cli.main(argv) == "native_tiling_cli_tiles"
    assert "registered native_tiling_cli_tiles" in capsys.readouterr().out
    assert len(DatasetCatalog.get("native_tiling_cli_tiles")) == 4  # 2 x 2 tiles of 1000 px
    with pytest.raises(SystemExit, match="not registered"):
        cli.main(["no_such_dataset", "--output", str(tmp_path)])
    # --help stays fast: nothing but argparse and the standard library at module level
    tree = ast.parse(open(cli.__file__).read())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = {(n.module if isinstance(n, ast.ImportFrom) else n.names[0].name) for n in top}
    assert names == {"__future__", "argparse"}, names
