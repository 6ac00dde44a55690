"""Pre-training data check (``prnet.data.check``): the rows of docs/bad_data.md marked "data check".

Dataset dicts are built by hand, as a user-registered dataset would give them.
"""

from __future__ import annotations

import numpy as np
import pytest
from detectron2.structures import BoxMode
from PIL import Image

from prnet.config import ConfigError, check_config
from prnet.data.check import (
    DataCheckError,
    check_dataset_dicts,
    check_training_data,
    classify_boxes,
    train_dataset_dicts,
)
from prnet.data.mapper import YOLODatasetMapper, build_yolo_train_loader

W, H = 40, 30
PLAIN = dict(mosaic_prob=0.0, scale=0.0, translate=0.0, hsv=(0, 0, 0), flip_prob=0.0)
# (XYWH box, class): fine, partly outside, entirely outside, zero height, negative width
MIXED = [
    ([1, 1, 5, 5], 0),
    ([35, 25, 10, 10], 1),
    ([100, 100, 5, 5], 2),
    ([5, 5, 4, 0], 0),
    ([5, 5, -3, 4], 1),
]


def _png(path, size=(W, H), mode="RGB"):
    Image.new(mode, size, 0).save(path)
    return path


def _record(path, annotations=(), size=(W, H), crowd=(), **extra):
    annos = [
        {"bbox": list(b), "bbox_mode": BoxMode.XYWH_ABS, "category_id": c, "iscrowd": 0}
        for b, c in annotations
    ]
    annos += [
        {"bbox": list(b), "bbox_mode": BoxMode.XYWH_ABS, "category_id": 0, "iscrowd": 1}
        for b in crowd
    ]
    return {"file_name": str(path), "width": size[0], "height": size[1], "image_id": 1,
            "annotations": annos, **extra}


def test_classify_boxes_rule():
    boxes = [[1, 1, 6, 6], [35, 25, 45, 35], [100, 100, 105, 105], [5, 5, 9, 5], [5, 5, 2, 9],
             [np.nan, 1, 5, 5], [0, 0, np.inf, 5]]
    clipped, status = classify_boxes(boxes, W, H)
    names = ["ok", "clipped", "outside", "zero_area", "negative_size", "non_finite", "non_finite"]
    from prnet.data.check import BOX_STATUS

    assert [BOX_STATUS[s] for s in status] == names
    np.testing.assert_array_equal(clipped[1], [35, 25, 40, 30])


def test_counts_clipped_and_dropped_boxes_and_matches_mapper(tmp_path):
    path = _png(tmp_path / "a.png")
    dicts = [_record(path, MIXED, crowd=[[2, 2, 4, 4]], ignore_regions=[[0, 0, 4, 4]])]
    report = check_dataset_dicts(dicts, num_classes=3)
    assert not report.errors
    expected = {"clipped_box": 1, "outside_box": 1, "zero_area_box": 1, "negative_size_box": 1,
                "crowd_box": 1, "ignore_region": 1}
    assert {k: report.counts[k] for k in expected} == expected
    assert (report.num_images, report.num_boxes, report.kept_boxes) == (1, 5, 2)
    assert report.counts["image_without_objects"] == 0
    # the mapper applies the same rule and counts under the same names
    mapper = YOLODatasetMapper(True, W, **PLAIN)
    out = mapper(dicts[0])
    assert out["instances"].gt_classes.tolist() == [0, 1]
    assert {k: mapper.box_counts[k] for k in expected if k != "ignore_region"} == {
        k: v for k, v in expected.items() if k != "ignore_region"
    }


def test_images_with_no_objects_are_counted_and_kept(tmp_path):
    path = _png(tmp_path / "a.png")
    dicts = [
        _record(path),  # no annotations
        _record(path, [([100, 100, 5, 5], 0)]),  # only a box outside: nothing left to train
        _record(path, crowd=[[1, 1, 5, 5]]),  # only crowd
        _record(path, [([1, 1, 5, 5], 0)]),
    ]
    report = check_dataset_dicts(dicts, num_classes=1)
    assert not report.errors and report.counts["image_without_objects"] == 3


def test_unknown_category_id_is_an_error_naming_file_and_record(tmp_path):
    path = _png(tmp_path / "a.png")
    box = [1, 1, 5, 5]
    dicts = [_record(path, [(box, 0)]), _record(path, [(box, 0), (box, 7)]),
             _record(path, [(box, -1)])]
    report = check_dataset_dicts(dicts, num_classes=3)
    assert report.errors == {"unknown_category": 2}
    with pytest.raises(DataCheckError) as info:
        report.raise_if_errors()
    msg = str(info.value)
    expected = "(record 1): annotation 1: category_id=7, expected 0..2 (model.num_classes=3)"
    assert f"{path} {expected}" in msg
    assert f"{path} (record 2): annotation 0: category_id=-1" in msg
    assert "2 x unknown_category" in msg
    assert info.value.report is report
    # no num_classes: not checked
    assert not check_dataset_dicts(dicts).errors


def test_missing_corrupt_and_wrong_size_images_are_errors(tmp_path):
    good = _png(tmp_path / "good.png")
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image")
    dicts = [
        _record(good),
        _record(tmp_path / "gone.png"),
        _record(junk),
        _record(_png(tmp_path / "small.png", size=(20, 10))),
    ]
    report = check_dataset_dicts(dicts)
    assert report.errors == {"missing_image": 1, "bad_image": 1, "size_mismatch": 1}
    msg = str(DataCheckError(report))
    assert f"{tmp_path / 'gone.png'} (record 1): image file not found" in msg
    assert f"{junk} (record 2): not an image Pillow can identify" in msg
    small = tmp_path / "small.png"
    assert f"{small} (record 3): image is 20x10 (WxH), the record says 40x30" in msg
    # images=None: annotations only
    assert not check_dataset_dicts(dicts, images=None).errors


def test_truncated_image_found_by_full_check_only(tmp_path):
    path = tmp_path / "t.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (H, W, 3), np.uint8)).save(path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    dicts = [_record(path, [([1, 1, 5, 5], 0)])]
    assert not check_dataset_dicts(dicts, images="header").errors
    report = check_dataset_dicts(dicts, images="full")
    assert report.errors == {"bad_image": 1}
    assert "truncated or corrupt" in report.error_examples["bad_image"][0]


def test_very_large_image_is_an_error(tmp_path, monkeypatch):
    path = _png(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", (W * H) // 3)  # error above 2x the limit
    report = check_dataset_dicts([_record(path)])
    assert report.errors == {"bad_image": 1}
    assert "MAX_IMAGE_PIXELS" in report.error_examples["bad_image"][0]


@pytest.mark.parametrize("mode", ["L", "RGBA", "I;16"])
def test_grayscale_rgba_16_bit_pass_both_checks(tmp_path, mode):
    path = _png(tmp_path / "m.png", mode=mode)
    for images in ("header", "full"):
        assert not check_dataset_dicts([_record(path, [([1, 1, 5, 5], 0)])], images=images).errors


def test_exif_rotated_header_size_is_the_decoded_size(tmp_path):
    path = tmp_path / "r.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees: decoded image is 30 wide, 40 high
    Image.new("RGB", (W, H)).save(path, exif=exif)
    for images in ("header", "full"):
        assert not check_dataset_dicts([_record(path, size=(H, W))], images=images).errors
        assert check_dataset_dicts([_record(path)], images=images).errors == {"size_mismatch": 1}


def test_non_finite_box_is_an_error_in_check_and_mapper(tmp_path):
    path = _png(tmp_path / "a.png")
    record = _record(path, [([1, 1, 5, 5], 0), ([1, float("nan"), 5, 5], 0)])
    report = check_dataset_dicts([record])
    assert report.errors == {"non_finite_box": 1} and report.counts["non_finite_box"] == 1
    assert f"{path} (record 0): annotation 1: expected finite bbox coordinates" in str(
        DataCheckError(report)
    )
    with pytest.raises(ValueError, match=r"annotation 1: expected finite bbox coordinates"):
        YOLODatasetMapper(True, W, **PLAIN)(record)


def test_malformed_bbox_is_an_error(tmp_path):
    path = _png(tmp_path / "a.png")
    record = _record(path, [([1, 1, 5], 0)])
    report = check_dataset_dicts([record])
    assert list(report.errors) == ["bad_bbox"]
    assert "(record 0): expected 'bbox' (4 numbers)" in report.error_examples["bad_bbox"][0]


def test_table_lists_every_row(tmp_path):
    path = _png(tmp_path / "a.png")
    report = check_dataset_dicts([_record(path, MIXED)], num_classes=3)
    table = report.table()
    for row in ("clipped_box", "outside_box", "zero_area_box", "negative_size_box",
                "crowd_box", "image_without_objects", "image check: header"):
        assert row in table
    assert "| clipped_box " in table and "| kept, clipped " in table


def test_check_training_data_reads_the_loader_and_raises(tmp_path, caplog):
    path = _png(tmp_path / "a.png")
    dicts = [_record(path, MIXED), _record(path, [([1, 1, 5, 5], 5)])]
    loader = build_yolo_train_loader(
        dicts, mapper=YOLODatasetMapper(True, W, **PLAIN), total_batch_size=1
    )
    assert [d["file_name"] for d in train_dataset_dicts(loader)] == [str(path)] * 2
    with pytest.raises(DataCheckError, match=r"\(record 1\): annotation 0: category_id=5"):
        check_training_data(loader, num_classes=3)
    report = check_training_data(loader, num_classes=6)
    assert report.counts["clipped_box"] == 1
    assert check_training_data(loader, 3, mode="off") is None
    with pytest.raises(ValueError, match="train.data_check must be one of"):
        check_training_data(loader, 3, mode="fast")


def test_config_accepts_data_check_and_rejects_bad_values():
    from detectron2.config import LazyConfig

    from prnet.utils.testing import repo_root

    cfg = LazyConfig.load(f"{repo_root()}/configs/PRNet/prnet_n.py")
    names = ["synthetic_aerial_train", "synthetic_aerial_val"]
    assert check_config(cfg, ["train.data_check=full"], names).train.data_check == "full"
    with pytest.raises(ConfigError, match=r"train.data_check='fast': expected one of 'header'"):
        check_config(cfg, ["train.data_check=fast"], names)
    with pytest.raises(ConfigError, match=r"train.nan_policy='ignore'"):
        check_config(cfg, ["train.nan_policy=ignore"], names)


def test_train_tool_checks_data_before_training(tmp_path):
    """``do_train`` fails on the bad record before the first iteration (wiring of the tool):
    a dataset labelled with more classes than the model has."""
    from detectron2.config import LazyConfig
    from detectron2.data import DatasetCatalog, MetadataCatalog

    from detectron2.engine import default_argument_parser

    from prnet.engine import train_loop as tool
    from prnet.utils.testing import TINY_OVERRIDES, repo_root

    path = _png(tmp_path / "a.png")
    name = "data_check_bad_category"
    dicts = [_record(path, [([1, 1, 5, 5], 0)]), _record(path, [([1, 1, 5, 5], 9)])]
    DatasetCatalog.register(name, lambda: dicts)
    # no thing_classes in the metadata (with them, model.num_classes=7 would be refused earlier by
    # prnet.config.resolve_num_classes, tests/data/test_custom_data.py): the data check catches it
    MetadataCatalog.get(name).set(evaluator_type="prnet")
    try:
        cfg = LazyConfig.load(f"{repo_root()}/configs/PRNet/prnet_n.py")
        overrides = [*TINY_OVERRIDES, f"dataloader.train.dataset.names={name}",
                     f"train.output_dir={tmp_path}", "train.max_iter=1"]
        cfg = LazyConfig.apply_overrides(cfg, overrides)
        args = default_argument_parser().parse_args([])
        with pytest.raises(DataCheckError, match=r"\(record 1\): annotation 0: category_id=9, "
                           r"expected 0..6 \(model.num_classes=7\)"):
            tool.do_train(args, cfg)
    finally:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)


def test_detectron2_asserts_ids_beyond_metadata_classes(tmp_path):
    """With ``thing_classes`` set, Detectron2's loader asserts first (no file name)."""
    from detectron2.data import DatasetCatalog, MetadataCatalog, get_detection_dataset_dicts

    path = _png(tmp_path / "a.png")
    name = "data_check_beyond_metadata"
    DatasetCatalog.register(name, lambda: [_record(path, [([1, 1, 5, 5], 9)])])
    MetadataCatalog.get(name).thing_classes = [str(i) for i in range(7)]
    try:
        with pytest.raises(AssertionError, match="invalid category_id=9 for a dataset of 7"):
            get_detection_dataset_dicts(name, filter_empty=False)
    finally:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
