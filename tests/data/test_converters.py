"""Converters on tiny hand-written inputs in the official formats (generated in tmp_path)."""

from __future__ import annotations

import json
import re

import pytest
from PIL import Image

from prnet.data.converters import (
    AITOD_CLASSES,
    UAVDT_TEST_SEQUENCES,
    VISDRONE_CLASSES,
    ConversionError,
    ConversionReport,
    canonical_aitod_class,
    clip_xywh,
    convert_aitod,
    convert_uavdt,
    convert_visdrone,
    convert_visdrone_split,
    discover_uavdt_sequences,
    find_aitod_source_json,
    image_size,
    read_sequence_list,
    split_uavdt_sequences,
    write_coco_json,
)


def _image(path, size=(64, 48)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (10, 20, 30)).save(path)
    return path


def _visdrone(tmp_path, annotations: dict, sizes: dict | None = None):
    """A VisDrone split folder: ``annotations`` maps name -> raw bytes; ``sizes`` name -> (w, h)."""
    split = tmp_path / "VisDrone2019-DET-val"
    (split / "annotations").mkdir(parents=True)
    (split / "images").mkdir()
    for name, raw in annotations.items():
        (split / "annotations" / f"{name}.txt").write_bytes(raw)
    for name, size in (sizes or {n: (64, 48) for n in annotations}).items():
        _image(split / "images" / f"{name}.jpg", size)
    return split / "images", split / "annotations"


# ---------------------------------------------------------------- VisDrone


def test_visdrone_rows_classes_ignore_regions_and_line_endings(tmp_path):
    crlf = (
        b"10,5,20,10,1,4,0,1\r\n"  # car
        b"0,0,8,6,0,0,0,0\r\n"  # ignored region (category 0)
        b"30,20,4,8,0,1,0,0\r\n"  # score 0 pedestrian -> iscrowd
        b"40,30,5,5,0,11,0,0\r\n"  # others -> dropped, counted
        b"\r\n"
    )
    lf = b"1,2,3,4,1,10,1,2,\n\n5,6,7,8,1,9,0,0\n"  # trailing comma, blank line
    images, annotations = _visdrone(tmp_path, {"a": crlf, "b": lf}, {"a": (64, 48), "b": (32, 24)})
    coco, report = convert_visdrone(images, annotations)

    assert [c["name"] for c in coco["categories"]] == list(VISDRONE_CLASSES)
    assert [c["id"] for c in coco["categories"]] == list(range(1, 11))
    a, b = coco["images"]
    assert (a["id"], a["file_name"], a["width"], a["height"]) == (1, "a.jpg", 64, 48)
    assert (b["id"], b["file_name"], b["width"], b["height"]) == (2, "b.jpg", 32, 24)
    assert a["ignore_regions"] == [[0.0, 0.0, 8.0, 6.0]]
    assert b["ignore_regions"] == []
    got = [
        (x["image_id"], x["category_id"], x["bbox"], x["iscrowd"], x["area"])
        for x in coco["annotations"]
    ]
    assert got == [
        (1, 4, [10.0, 5.0, 20.0, 10.0], 0, 200.0),
        (1, 1, [30.0, 20.0, 4.0, 8.0], 1, 32.0),
        (2, 10, [1.0, 2.0, 3.0, 4.0], 0, 12.0),
        (2, 9, [5.0, 6.0, 7.0, 8.0], 0, 56.0),
    ]
    assert [x["id"] for x in coco["annotations"]] == [1, 2, 3, 4]
    assert (coco["annotations"][2]["truncation"], coco["annotations"][2]["occlusion"]) == (1, 2)
    assert report.clean
    assert dict(report.dropped) == {"category_11_others": 1}
    assert report.examples["category_11_others"] == [f"{annotations / 'a.txt'}:4"]
    assert report.stats["images"] == 2 and report.stats["annotations"] == 4
    assert report.stats["ignore_regions"] == 1
    assert report.stats["annotations_iscrowd (score 0)"] == 1


def test_visdrone_empty_annotation_file_keeps_image(tmp_path):
    images, annotations = _visdrone(tmp_path, {"empty": b"", "blank": b"\r\n\r\n"})
    coco, report = convert_visdrone(images, annotations)
    assert [i["file_name"] for i in coco["images"]] == ["blank.jpg", "empty.jpg"]
    assert coco["annotations"] == []
    assert report.stats["empty_annotation_files"] == 2
    assert report.clean


@pytest.mark.parametrize(
    "raw, line, needle",
    [
        (b"1,2,3,4,1,4,0,0\r\n1,2,3,4,1,4,0\r\n", 2, "expected 8 comma-separated values"),
        (b"1,2,3,4,1,4,0,0,9\n", 1, "got 9"),
        (b"\n1,2,3,4,1,4,0,0\n1,2,x3,4,1,4,0,0\n", 3, "field 'w' is not a finite number: 'x3'"),
        (b"1,2,3,4,1,nan,0,0\n", 1, "field 'category'"),
        (b"1,2,3,4,1,12,0,0\n", 1, "category must be in 0..11, got 12"),
        (b"1,2,3,4,2,4,0,0\n", 1, "score must be 0 or 1, got 2"),
        (b"1,2,3,4,1,4.5,0,0\n", 1, "'category' must be an integer"),
    ],
)
def test_visdrone_malformed_rows_name_file_and_line(tmp_path, raw, line, needle):
    images, annotations = _visdrone(tmp_path, {"bad": raw})
    with pytest.raises(ConversionError) as info:
        convert_visdrone(images, annotations)
    assert info.value.path == str(annotations / "bad.txt")
    assert info.value.line == line
    assert needle in str(info.value)
    assert str(info.value).startswith(f"{annotations / 'bad.txt'}:{line}: ")
    assert isinstance(info.value, ValueError)


def test_visdrone_boxes_outside_image_are_clipped_or_dropped_and_counted(tmp_path):
    raw = (
        b"60,40,10,10,1,4,0,0\n"  # reaches out of the 64x48 image -> clipped to 4x8
        b"70,10,5,5,1,4,0,0\n"  # entirely outside -> dropped
        b"-2,0,6,4,0,0,0,0\n"  # ignore region, clipped to x >= 0
        b"5,5,0,3,1,4,0,0\n"  # zero width in the source
    )
    images, annotations = _visdrone(tmp_path, {"img": raw})
    coco, report = convert_visdrone(images, annotations)
    assert [a["bbox"] for a in coco["annotations"]] == [[60.0, 40.0, 4.0, 8.0]]
    assert coco["annotations"][0]["area"] == 32.0
    assert coco["images"][0]["ignore_regions"] == [[0.0, 0.0, 4.0, 4.0]]
    assert dict(report.issues) == {
        "clipped_box": 2,
        "zero_area_after_clip": 1,
        "non_positive_size": 1,
    }
    assert report.examples["zero_area_after_clip"][0].startswith(f"{annotations / 'img.txt'}:2: ")
    assert not report.clean

    with pytest.raises(ConversionError) as info:
        convert_visdrone(images, annotations, strict=True)
    assert (info.value.path, info.value.line) == (str(annotations / "img.txt"), 1)
    assert "clipped_box" in str(info.value)


def test_visdrone_missing_and_unreadable_images(tmp_path):
    images, annotations = _visdrone(
        tmp_path, {"ok": b"1,1,2,2,1,4,0,0\n", "gone": b"1,1,2,2,1,4,0,0\n"}, {"ok": (8, 8)}
    )
    (images / "broken.jpg").write_bytes(b"this is not a jpeg")
    (annotations / "broken.txt").write_bytes(b"1,1,2,2,1,4,0,0\n")
    _image(images / "orphan.jpg", (8, 8))  # image without annotation file

    coco, report = convert_visdrone(images, annotations)
    assert [i["file_name"] for i in coco["images"]] == ["ok.jpg"]
    assert len(coco["annotations"]) == 1
    assert dict(report.issues) == {
        "missing_image": 1,
        "unreadable_image": 1,
        "missing_annotation_file": 1,
    }
    assert report.examples["missing_image"][0].startswith(str(annotations / "gone.txt"))
    assert report.examples["unreadable_image"][0].startswith(str(images / "broken.jpg"))
    assert report.examples["missing_annotation_file"][0].startswith(str(images / "orphan.jpg"))

    with pytest.raises(ConversionError) as info:
        convert_visdrone(images, annotations, strict=True)
    assert info.value.path == str(images / "orphan.jpg")


def test_visdrone_split_layout_and_missing_folder(tmp_path):
    _visdrone(tmp_path, {"x": b"1,1,2,2,1,2,0,0\n"})
    coco, _ = convert_visdrone_split(tmp_path, "val")
    assert coco["annotations"][0]["category_id"] == 2
    with pytest.raises(ConversionError, match="folder not found") as info:
        convert_visdrone_split(tmp_path, "train")
    assert info.value.path == str(tmp_path / "VisDrone2019-DET-train" / "images")
    with pytest.raises(ValueError, match="unknown VisDrone split"):
        convert_visdrone_split(tmp_path, "test-challenge")


# ---------------------------------------------------------------- common


def test_image_size_reads_header_and_applies_exif_rotation(tmp_path):
    plain = _image(tmp_path / "plain.jpg", (40, 30))
    assert image_size(plain) == (40, 30)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees: Detectron2 loads it as 30x40
    rotated = tmp_path / "rotated.jpg"
    Image.new("RGB", (40, 30)).save(rotated, exif=exif)
    assert image_size(rotated) == (30, 40)
    with pytest.raises(ConversionError, match="not found"):
        image_size(tmp_path / "none.jpg")


def test_clip_and_report_helpers(tmp_path):
    assert clip_xywh([-5, 2, 10, 4], 20, 10) == ([0.0, 2.0, 5.0, 4.0], True)
    assert clip_xywh([1, 2, 3, 4], 20, 10) == ([1.0, 2.0, 3.0, 4.0], False)
    assert clip_xywh([25, 2, 3, 4], 20, 10) == (None, True)
    report = ConversionReport(source="s", max_examples=2)
    for line in range(5):
        report.issue("clipped_box", "f.txt", line + 1, "d")
    assert report.issues["clipped_box"] == 5
    assert report.examples["clipped_box"] == ["f.txt:1: d", "f.txt:2: d"]
    assert "clipped_box: 5" in report.format()
    coco = {"images": [], "annotations": [], "categories": []}
    report_path = write_coco_json(coco, tmp_path / "out" / "x.json", report)
    assert report_path == tmp_path / "out" / "x.report.json"
    assert json.loads((tmp_path / "out" / "x.json").read_text()) == coco
    assert json.loads(report_path.read_text())["issues"] == {"clipped_box": 5}


# ---------------------------------------------------------------- UAVDT


def _uavdt(tmp_path, whole: str, ignore: str | None, frames=(1, 2, 3), seq="M0101"):
    gt = tmp_path / "GT"
    gt.mkdir(exist_ok=True)
    (gt / f"{seq}_gt_whole.txt").write_text(whole)
    if ignore is not None:
        (gt / f"{seq}_gt_ignore.txt").write_text(ignore)
    for f in frames:
        _image(tmp_path / "frames" / seq / f"img{f:06d}.jpg", (100, 50))
    return tmp_path / "frames", gt


def test_uavdt_frames_annotations_and_ignore_regions(tmp_path):
    whole = (
        "1,1,10,10,20,10,1,1,1\n"
        "1,2,90,40,20,20,1,2,3\n"  # reaches out of the 100x50 frame -> clipped
        "3,1,12,11,20,10,1,1,2\n"
    )
    ignore = "2,9,0,0,30,20,1,-1,-1\n3,9,50,25,10,10,1,-1,-1\n3,10,60,0,5,5,1,-1,-1\n"
    images, gt = _uavdt(tmp_path, whole, ignore)
    coco, report = convert_uavdt(images, gt, ["M0101"])

    assert [(i["id"], i["file_name"], i["frame"]) for i in coco["images"]] == [
        (1, "M0101/img000001.jpg", 1),
        (2, "M0101/img000002.jpg", 2),  # no object, but an ignore region
        (3, "M0101/img000003.jpg", 3),
    ]
    assert {(i["width"], i["height"]) for i in coco["images"]} == {(100, 50)}
    assert [i["ignore_regions"] for i in coco["images"]] == [
        [],
        [[0.0, 0.0, 30.0, 20.0]],
        [[50.0, 25.0, 10.0, 10.0], [60.0, 0.0, 5.0, 5.0]],
    ]
    got = [(a["image_id"], a["category_id"], a["bbox"], a["track_id"]) for a in coco["annotations"]]
    assert got == [
        (1, 1, [10.0, 10.0, 20.0, 10.0], 1),
        (1, 3, [90.0, 40.0, 10.0, 10.0], 2),
        (3, 2, [12.0, 11.0, 20.0, 10.0], 1),
    ]
    assert [c["name"] for c in coco["categories"]] == ["car", "truck", "bus"]
    assert dict(report.issues) == {"clipped_box": 1}
    assert report.examples["clipped_box"][0].startswith(f"{gt / 'M0101_gt_whole.txt'}:2: ")
    assert report.stats["ignore_regions"] == 3


def test_uavdt_missing_frame_image_and_missing_ignore_file(tmp_path):
    images, gt = _uavdt(tmp_path, "1,1,1,1,5,5,1,1,1\n4,1,1,1,5,5,1,1,1\n", None, frames=(1,))
    coco, report = convert_uavdt(images, gt, ["M0101"])
    assert len(coco["images"]) == 1 and len(coco["annotations"]) == 1
    assert dict(report.issues) == {"missing_image": 1, "missing_gt_ignore": 1}
    assert report.examples["missing_image"][0].startswith(f"{gt / 'M0101_gt_whole.txt'}:2: ")
    with pytest.raises(ConversionError, match="missing_gt_ignore"):
        convert_uavdt(images, gt, ["M0101"], strict=True)


def test_uavdt_without_frames_needs_assume_size(tmp_path):
    images, gt = _uavdt(tmp_path, "2,1,1,1,5,5,1,1,1\n", "5,9,0,0,4,4,1,-1,-1\n", frames=())
    with pytest.raises(ConversionError, match="assume_size") as info:
        convert_uavdt(images, gt, ["M0101"])
    assert info.value.path == str(images / "M0101")
    coco, report = convert_uavdt(images, gt, ["M0101"], assume_size=(1024, 540))
    assert [(i["frame"], i["width"], i["height"]) for i in coco["images"]] == [
        (2, 1024, 540),
        (5, 1024, 540),
    ]
    assert coco["images"][1]["ignore_regions"] == [[0.0, 0.0, 4.0, 4.0]]
    assert report.stats["frames_with_assumed_size"] == 2


@pytest.mark.parametrize(
    "whole, line, needle",
    [
        ("1,1,1,1,5,5,1,1,1\n1,1,1,1,5,5,1,1,4\n", 2, "category must be 1 (car)"),
        ("1,1,1,1,5,5,1,1\n", 1, "expected 9 comma-separated values"),
        ("1,1,1,1,5,five,1,1,1\n", 1, "field 'height'"),
        ("0,1,1,1,5,5,1,1,1\n", 1, "frame must be a positive integer"),
    ],
)
def test_uavdt_malformed_rows(tmp_path, whole, line, needle):
    images, gt = _uavdt(tmp_path, whole, "")
    with pytest.raises(ConversionError, match=re.escape(needle)) as info:
        convert_uavdt(images, gt, ["M0101"])
    assert (info.value.path, info.value.line) == (str(gt / "M0101_gt_whole.txt"), line)


def test_uavdt_sequence_split(tmp_path):
    assert len(UAVDT_TEST_SEQUENCES) == 20 == len(set(UAVDT_TEST_SEQUENCES))
    available = [f"M{i:04d}" for i in (101, 201, 203)]
    assert split_uavdt_sequences(available, ["M0203"]) == {
        "train": ["M0101", "M0201"],
        "test": ["M0203"],
    }
    with pytest.raises(ConversionError, match="M0205"):
        split_uavdt_sequences(available + ["M0203"])
    listing = tmp_path / "test.txt"
    listing.write_text("# my split\nM0101, M0203\r\nM0201  # trailing comment\n")
    assert read_sequence_list(listing) == ["M0101", "M0203", "M0201"]
    listing.write_text("M0101\nseq2\n")
    with pytest.raises(ConversionError, match="seq2") as info:
        read_sequence_list(listing)
    assert info.value.line == 2
    images, gt = _uavdt(tmp_path, "", "", frames=(1,), seq="M0702")
    (gt / "M0101_gt_ignore.txt").write_text("")  # no gt_whole: not a sequence
    assert discover_uavdt_sequences(gt) == ["M0702"]
    with pytest.raises(ConversionError, match="ground truth of sequence M0101 not found"):
        convert_uavdt(images, gt, ["M0101"])


# ---------------------------------------------------------------- AI-TOD


def _aitod(tmp_path, images, annotations, categories=None):
    root = tmp_path / "images"
    root.mkdir(exist_ok=True)
    if categories is None:  # 0-based ids and odd spellings, normalised by name
        categories = [
            {"id": i, "name": n.upper().replace("-", "_")} for i, n in enumerate(AITOD_CLASSES)
        ]
    path = tmp_path / "src.json"
    path.write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": categories})
    )
    return path, root


def _aitod_image(tmp_path, id_, size=(40, 30)):
    _image(tmp_path / "images" / f"{id_}.png", size)
    return {"id": id_, "file_name": f"{id_}.png", "width": size[0], "height": size[1]}


def test_aitod_normalises_categories_and_clips(tmp_path):
    images = [_aitod_image(tmp_path, 7), _aitod_image(tmp_path, 9)]
    anns = [
        {"id": 3, "image_id": 7, "category_id": 2, "bbox": [1, 2, 3, 4], "area": 12, "iscrowd": 0},
        {"id": 4, "image_id": 9, "category_id": 7, "bbox": [35, 25, 10, 10], "area": 100},
        {"id": 5, "image_id": 9, "category_id": 5, "bbox": [1, 1, 2, 2], "ignore": 1},
        {"id": 6, "image_id": 9, "category_id": 5, "bbox": [50, 1, 2, 2]},
    ]
    path, root = _aitod(tmp_path, images, anns)
    coco, report = convert_aitod(path, root)
    assert coco["categories"] == [
        {"id": i + 1, "name": n, "supercategory": "none"} for i, n in enumerate(AITOD_CLASSES)
    ]
    got = [
        (a["id"], a["image_id"], a["category_id"], a["bbox"], a["area"], a["iscrowd"])
        for a in coco["annotations"]
    ]
    assert got == [
        (3, 7, 3, [1.0, 2.0, 3.0, 4.0], 12.0, 0),  # source id 2 = STORAGE_TANK -> 3
        (4, 9, 8, [35.0, 25.0, 5.0, 5.0], 25.0, 0),  # clipped, area recomputed; wind-mill
        (5, 9, 6, [1.0, 1.0, 2.0, 2.0], 4.0, 1),  # "ignore": 1 -> iscrowd
    ]
    assert [i["id"] for i in coco["images"]] == [7, 9]
    assert dict(report.issues) == {"clipped_box": 1, "zero_area_after_clip": 1}
    assert report.stats["ignore_flag_to_iscrowd"] == 1


def test_aitod_missing_image_and_size_mismatch(tmp_path):
    good = _aitod_image(tmp_path, 1)
    wrong = _aitod_image(tmp_path, 2, (20, 10)) | {"width": 800, "height": 800}
    missing = {"id": 3, "file_name": "3.png", "width": 40, "height": 30}
    anns = [
        {"id": 1, "image_id": 3, "category_id": 0, "bbox": [1, 1, 2, 2]},
        {"id": 2, "image_id": 99, "category_id": 0, "bbox": [1, 1, 2, 2]},
        {"id": 3, "image_id": 2, "category_id": 0, "bbox": [1, 1, 2, 2]},
    ]
    path, root = _aitod(tmp_path, [good, wrong, missing], anns)
    coco, report = convert_aitod(path, root)
    assert [(i["id"], i["width"], i["height"]) for i in coco["images"]] == [
        (1, 40, 30),
        (2, 20, 10),
    ]
    assert [a["id"] for a in coco["annotations"]] == [3]
    assert dict(report.issues) == {
        "missing_image": 1,
        "size_mismatch": 1,
        "annotation_of_skipped_image": 1,
        "unknown_image_id": 1,
    }
    assert report.examples["missing_image"][0].startswith(str(root / "3.png"))
    coco, report = convert_aitod(path, root, check_images=False)
    assert [i["id"] for i in coco["images"]] == [1, 2, 3]
    assert dict(report.issues) == {"unknown_image_id": 1}


@pytest.mark.parametrize(
    "mutate, needle",
    [
        (lambda d: d["annotations"][0].update(category_id=42), "category_id 42 not in"),
        (lambda d: d["categories"].append({"id": 8, "name": "tree"}), "categories[8]"),
        (lambda d: d["annotations"][0].update(bbox=[1, 2, 3]), "bbox must be 4 finite"),
        (lambda d: d["annotations"].append(dict(d["annotations"][0])), "annotation id repeated"),
        (lambda d: d["images"][0].update(width=0), "images[0].width"),
        (lambda d: d.pop("categories"), "expected a COCO object"),
    ],
)
def test_aitod_invalid_json_content(tmp_path, mutate, needle):
    image = _aitod_image(tmp_path, 1)
    path, root = _aitod(
        tmp_path, [image], [{"id": 1, "image_id": 1, "category_id": 0, "bbox": [1, 1, 2, 2]}]
    )
    data = json.loads(path.read_text())
    mutate(data)
    path.write_text(json.dumps(data))
    with pytest.raises(ConversionError, match=re.escape(needle)) as info:
        convert_aitod(path, root)
    assert info.value.path == str(path)


def test_aitod_syntax_error_names_line_and_finds_sources(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [],\n "annotations": [,]}')
    with pytest.raises(ConversionError) as info:
        convert_aitod(bad, tmp_path, check_images=False)
    assert (info.value.path, info.value.line) == (str(bad), 2)
    assert canonical_aitod_class("Wind Mill") == "wind-mill"
    assert canonical_aitod_class("tree") is None
    (tmp_path / "aitod_training_v1.json").write_text("{}")
    assert find_aitod_source_json(tmp_path, "v1", "train") == tmp_path / "aitod_training_v1.json"
    with pytest.raises(ConversionError, match="aitodv2_test.json.*found: aitod_training_v1.json"):
        find_aitod_source_json(tmp_path, "v2", "test")
