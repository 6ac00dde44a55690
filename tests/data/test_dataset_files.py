"""Bad dataset files: the "Dataset files" rows of docs/bad_data.md.

Each case is a tiny COCO json (or hand-made dataset dicts) in a tmp dir; each must fail with one
``DataCheckError`` naming the file and the record, while the dataset is loaded (before the train
loader exists, so before any DataLoader worker), never with a bare traceback.
"""

from __future__ import annotations

import copy
import json

import pytest
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog, get_detection_dataset_dicts
from detectron2.data.datasets import load_coco_json
from detectron2.structures import BoxMode
from PIL import Image

from prnet.data.check import DataCheckError, DatasetFileError, check_dataset_dicts
from prnet.data.datasets.coco import (
    load_coco_json_with_ignore,
    read_coco_json,
    register_coco_with_ignore,
)

W, H = 40, 30
GOOD = {
    "images": [
        {"id": 1, "file_name": "a.png", "width": W, "height": H},
        {"id": 2, "file_name": "b.png", "width": W, "height": H},
    ],
    "annotations": [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5], "iscrowd": 0},
        {"id": 2, "image_id": 2, "category_id": 2, "bbox": [2, 2, 6, 6], "iscrowd": 0},
    ],
    "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "van"}],
}


def _write(tmp_path, coco=None, text=None):
    for name in ("a.png", "b.png"):
        Image.new("RGB", (W, H)).save(tmp_path / name)
    path = tmp_path / "train.json"
    if text is not None:
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    else:
        path.write_text(json.dumps(coco))
    return path


def _edit(change):
    coco = copy.deepcopy(GOOD)
    change(coco)
    return coco


def _error(path) -> str:
    """The message of loading ``path`` as the train loader does (``DatasetCatalog.get``)."""
    with pytest.raises(DataCheckError) as info:
        load_coco_json_with_ignore(str(path), str(path.parent), "dataset_files_test")
    assert isinstance(info.value, DatasetFileError) and info.value.path == str(path)
    message = str(info.value)
    assert message.startswith(f"{path}: cannot load this COCO json; fix the problems below")
    return message


# (case id, change to GOOD, reason, text naming the record)
CASES = [
    (
        "duplicate_image_id",
        lambda c: c["images"][1].update(id=1),
        "duplicate_image_id",
        "images[1] (id 1, 'b.png'): id 1 already used by images[0] ('a.png'); one would train "
        "with the other's boxes",
    ),
    (
        "duplicate_annotation_id",
        lambda c: c["annotations"][1].update(id=1),
        "duplicate_annotation_id",
        "annotations[1] (id 1, image_id 2, 'b.png'): id 1 already used by annotations[0] "
        "(image_id 1)",
    ),
    (
        "no_width",
        lambda c: c["images"][0].pop("width"),
        "missing_image_size",
        "images[0] (id 1, 'a.png'): expected positive 'width' and 'height' (the image's size in "
        "pixels), got None x 30",
    ),
    (
        "zero_height",
        lambda c: c["images"][1].update(height=0),
        "missing_image_size",
        "images[1] (id 2, 'b.png'): expected positive 'width' and 'height'",
    ),
    (
        "no_categories",
        lambda c: c.pop("categories"),
        "bad_structure",
        '\'categories\': expected a list of {"id", "name"} per class, at least one, got None',
    ),
    (
        "empty_categories",
        lambda c: c.update(categories=[]),
        "bad_structure",
        "'categories': expected a list",
    ),
    ("no_images", lambda c: c.pop("images"), "bad_structure", "'images': expected a list of"),
    (
        "no_annotations",
        lambda c: c.pop("annotations"),
        "bad_structure",
        '\'annotations\': expected a list of {"id", "image_id", "category_id", "bbox"} per '
        "box; [] if none, got None",
    ),
    (
        "bbox_string",
        lambda c: c["annotations"][0].update(bbox="abc"),
        "bad_bbox",
        "annotations[0] (id 1, image_id 1, 'a.png'): expected 'bbox' as 4 finite numbers "
        "[x, y, w, h], got 'abc'",
    ),
    (
        "bbox_3_numbers",
        lambda c: c["annotations"][1].update(bbox=[1, 2, 3]),
        "bad_bbox",
        "annotations[1] (id 2, image_id 2, 'b.png'): expected 'bbox' as 4 finite numbers",
    ),
    (
        "bbox_nan",
        lambda c: c["annotations"][1].update(bbox=[1, 2, float("nan"), 3]),
        "bad_bbox",
        "annotations[1] (id 2, image_id 2, 'b.png'): expected 'bbox' as 4 finite numbers",
    ),
    (
        "unknown_category_id",
        lambda c: c["annotations"][1].update(category_id=7),
        "unknown_category",
        "annotations[1] (id 2, image_id 2, 'b.png'): category_id=7 but this id does not exist in "
        "'categories' (ids: 1, 2)",
    ),
    (
        "unknown_image_id",
        lambda c: c["annotations"][1].update(image_id=9),
        "unknown_image_id",
        "annotations[1] (id 2, image_id 9): image_id 9 is not the id of any image in 'images'",
    ),
    (
        "ignore_flag",
        lambda c: c["annotations"][0].update(ignore=1),
        "ignore_flag",
        "annotations[0] (id 1, image_id 1, 'a.png'): 'ignore'=1 is not supported by Detectron2; "
        "drop the key and mark the box 'iscrowd': 1 instead",
    ),
    (
        "bad_ignore_regions",
        lambda c: c["images"][0].update(ignore_regions=[[1, 2, 3]]),
        "bad_ignore_regions",
        "images[0] (id 1, 'a.png'): expected 'ignore_regions' as a list of [x, y, w, h]",
    ),
    (
        "duplicate_category_id",
        lambda c: c["categories"][1].update(id=1),
        "duplicate_category_id",
        "categories[1]: id 1 already used by categories[0]",
    ),
]


@pytest.mark.parametrize(
    "change, reason, needle", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_coco_json_error_names_file_and_record(tmp_path, change, reason, needle):
    message = _error(_write(tmp_path, _edit(change)))
    assert f"x {reason}:" in message
    assert needle in message


@pytest.mark.parametrize(
    "text, where, needle",
    [
        (
            '{"images": [\n  {"id": 1, "file_name": "a.png"',
            "line 2, column 33",
            "the file ends " "early: cut short by an interrupted write?",
        ),
        ('{"images": [],\n "annotations": [],\n}', "line 3, column 1", "Expecting property name"),
        ("{'images': []}", "line 1, column 2", "Expecting property name enclosed in double quotes"),
        ("", "line 1, column 1", "Expecting value"),
    ],
    ids=["cut_short", "trailing_comma", "single_quotes", "empty_file"],
)
def test_invalid_json_error_names_line_and_column(tmp_path, text, where, needle):
    message = _error(_write(tmp_path, text=text))
    assert f"1 x invalid_json:\n    {where}: " in message and needle in message


def test_not_utf8_and_not_an_object(tmp_path):
    assert "line 1, byte 21: not UTF-8 (invalid start byte)" in _error(
        _write(tmp_path, text=b'{"images": [], "x": "\xff"}')
    )
    assert "expected a JSON object with 'images', 'annotations' and 'categories', got a list" in (
        _error(_write(tmp_path, text="[1, 2]"))
    )


def test_every_problem_is_listed_once_with_a_cap(tmp_path):
    """One error lists every reason, up to 5 examples each, then "... and N more"."""

    def change(coco):
        coco["images"][1]["id"] = 1
        coco["annotations"] += [
            {"id": 10 + i, "image_id": 99, "category_id": 1, "bbox": [1, 1, 2, 2]} for i in range(8)
        ]

    message = _error(_write(tmp_path, _edit(change)))
    # b.png's annotation (image_id 2) and the 8 added ones
    assert "1 x duplicate_image_id:" in message and "9 x unknown_image_id:" in message
    assert message.count("is not the id of any image") == 5
    assert message.endswith("  ... and 4 more")


def test_detectron2_alone_gives_one_image_the_others_boxes(tmp_path, caplog):
    """The silent wrong result the check prevents (b.png's id changed from 2 to 1): Detectron2's
    loader keeps b.png with a.png's box and drops b.png's own, with only a warning."""
    path = _write(tmp_path, _edit(lambda c: c["images"][1].update(id=1)))
    records = load_coco_json(str(path), str(tmp_path))
    assert [r["file_name"].rsplit("/", 1)[-1] for r in records] == ["b.png"]
    assert [a["bbox"] for a in records[0]["annotations"]] == [[1, 1, 5, 5]]  # a.png's box
    assert "contains 2 annotations, but only 1 of them match" in caplog.text


def test_good_json_loads_with_ignore_regions_and_string_ids(tmp_path):
    def change(coco):
        coco["images"][0]["ignore_regions"] = [[0, 0, 4, 4]]
        coco["images"][0]["id"], coco["annotations"][0]["image_id"] = "a", "a"
        coco["images"][1]["id"], coco["annotations"][1]["image_id"] = "b", "b"

    path = _write(tmp_path, _edit(change))
    assert read_coco_json(path)["images"][0]["ignore_regions"] == [[0, 0, 4, 4]]
    records = load_coco_json_with_ignore(str(path), str(tmp_path), "dataset_files_good")
    assert [r["ignore_regions"] for r in records] == [[[0.0, 0.0, 4.0, 4.0]], []]
    # an unlabelled split: "annotations": [] is fine
    path = _write(tmp_path, _edit(lambda c: c.update(annotations=[])))
    assert [r["annotations"] for r in load_coco_json_with_ignore(str(path), str(tmp_path))] == [
        [],
        [],
    ]


def test_error_comes_from_the_registered_dataset(tmp_path):
    """``get_detection_dataset_dicts`` (what the train loader config calls) raises it."""
    path = _write(tmp_path, _edit(lambda c: c["images"][1].update(id=1)))
    name = "dataset_files_registered"
    register_coco_with_ignore(name, {}, path, tmp_path)
    try:
        with pytest.raises(DatasetFileError, match=r"images\[1\] \(id 1, 'b.png'\): id 1 already"):
            get_detection_dataset_dicts(name, filter_empty=False)
    finally:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)


@pytest.mark.parametrize(
    "bbox, needle",
    [
        ("abc", "annotation 1 has bbox='abc'"),
        ([1, 2, 3], "annotation 1 has bbox=[1, 2, 3]"),
        ({"x": 1}, "annotation 1 has bbox={'x': 1}"),
        (None, "annotation 1 has bbox=None"),
        (torch.zeros(3), "annotation 1 has bbox=tensor([0., 0., 0.])"),
    ],
)
def test_data_check_names_malformed_bbox_in_dataset_dicts(tmp_path, bbox, needle):
    """Hand-made dataset dicts: the data check reports what used to be a bare AttributeError."""
    path = _write(tmp_path, GOOD).parent / "a.png"
    annos = [
        {"bbox": b, "bbox_mode": BoxMode.XYWH_ABS, "category_id": 0} for b in ([1, 1, 4, 4], bbox)
    ]
    record = {"file_name": str(path), "width": W, "height": H, "image_id": 1, "annotations": annos}
    report = check_dataset_dicts([record], num_classes=1)
    assert list(report.errors) == ["bad_bbox"]
    message = str(DataCheckError(report))
    assert f"{path} (record 0): expected 'bbox' (4 numbers) and 'bbox_mode' in every " in message
    assert needle in message


def test_data_check_names_bad_bbox_mode_and_annotations(tmp_path):
    path = _write(tmp_path, GOOD).parent / "a.png"
    box = {"bbox": [1, 1, 4, 4], "category_id": 0}
    records = [
        {"file_name": str(path), "width": W, "height": H, "annotations": [box]},
        {"file_name": str(path), "width": W, "height": H, "annotations": "abc"},
        {"file_name": str(path), "width": W, "height": H, "annotations": [box, 3]},
    ]
    report = check_dataset_dicts(records, num_classes=1)
    assert report.errors == {"bad_bbox": 1, "bad_annotations": 2}
    assert (
        "(record 0): expected 'bbox' (4 numbers) and 'bbox_mode' in every annotation; "
        "annotation 0 has bbox_mode=None" in report.error_examples["bad_bbox"][0]
    )
    assert report.error_examples["bad_annotations"] == [
        f"{path} (record 1): expected 'annotations' to be a list of dicts, got 'abc'",
        f"{path} (record 2): expected 'annotations' to be a list of dicts, got "
        "[{'bbox': [1, 1, 4, 4], 'category_id': 0}, 3]",
    ]


def _train(tmp_path, monkeypatch, name: str, *extra_overrides: str) -> BaseException:
    """Run the training tool on dataset ``name``; return what it raised. Fails the test if a
    DataLoader is iterated (that is when workers start) or a trainer is built."""
    from detectron2.config import LazyConfig
    from detectron2.engine import default_argument_parser

    from prnet.engine import train_loop as tool
    from prnet.utils.testing import TINY_OVERRIDES, repo_root

    def no_training(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(torch.utils.data.DataLoader, "__iter__", no_training)
    monkeypatch.setattr(tool, "build_trainer", no_training)
    cfg = LazyConfig.load(f"{repo_root()}/configs/PRNet/prnet_n.py")
    overrides = [
        *TINY_OVERRIDES,
        f"dataloader.train.dataset.names={name}",
        f"train.output_dir={tmp_path}",
        "train.max_iter=1",
        *extra_overrides,
    ]
    cfg = LazyConfig.apply_overrides(cfg, overrides)
    try:
        with pytest.raises(DataCheckError) as info:
            tool.do_train(default_argument_parser().parse_args([]), cfg)
    finally:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    return info.value


@pytest.mark.parametrize(
    "change, text, needle",
    [
        (lambda c: c["images"][1].update(id=1), None, "images[1] (id 1, 'b.png'): id 1 already"),
        (lambda c: c["annotations"][0].update(bbox="abc"), None, "got 'abc'"),
        (None, '{"images": [', "line 1, column 13: Expecting value"),
    ],
    ids=["duplicate_image_id", "bbox_string", "invalid_json"],
)
def test_train_tool_fails_before_any_worker_starts(tmp_path, monkeypatch, change, text, needle):
    """``do_train`` raises the file's error while it builds the train loader, before the data
    check, any DataLoader worker or the trainer."""
    path = _write(tmp_path, _edit(change) if change else None, text)
    register_coco_with_ignore("dataset_files_train_tool", {}, path, tmp_path)
    error = _train(tmp_path, monkeypatch, "dataset_files_train_tool")
    assert isinstance(error, DatasetFileError)
    assert str(error).startswith(f"{path}: cannot load this COCO json") and needle in str(error)


def test_train_tool_reports_malformed_bbox_of_dataset_dicts(tmp_path, monkeypatch):
    """Dataset dicts registered by hand skip the json check: the training data check, which the
    tool runs before any worker starts, names the record (it raised AttributeError before)."""
    path = _write(tmp_path, GOOD).parent / "a.png"
    annos = [{"bbox": "abc", "bbox_mode": BoxMode.XYWH_ABS, "category_id": 0, "iscrowd": 0}]
    record = {"file_name": str(path), "width": W, "height": H, "image_id": 1, "annotations": annos}
    DatasetCatalog.register("dataset_files_dicts", lambda: [record])
    MetadataCatalog.get("dataset_files_dicts").thing_classes = ["car"]
    # one class, as the dataset says: the data check is what this test is about
    error = _train(tmp_path, monkeypatch, "dataset_files_dicts", "model.num_classes=1",
                   "dataloader.test.dataset.names=dataset_files_dicts")
    assert (
        f"{path} (record 0): expected 'bbox' (4 numbers) and 'bbox_mode' in every "
        "annotation; annotation 0 has bbox='abc'" in str(error)
    )
