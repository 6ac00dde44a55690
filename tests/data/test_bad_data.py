"""Bad data matrix: each case gives a clear error (file, line, what was expected) or a counted skip.

One test per row of ``docs/bad_data.md``; keep the two in step.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from detectron2.structures import BoxMode
from PIL import Image

from prnet.data.converters import ConversionError, convert_visdrone, image_size
from prnet.data.datasets.coco import load_coco_json_with_ignore
from prnet.data.image_io import ImageReadError, read_image_rgb
from prnet.data.mapper import YOLODatasetMapper

W, H = 40, 30
PLAIN = dict(mosaic_prob=0.0, scale=0.0, translate=0.0, hsv=(0, 0, 0), flip_prob=0.0)


def _png(path, mode="RGB", size=(W, H), color=(10, 20, 30)):
    Image.new(mode, size, color).save(path)
    return path


def _truncated(path, fmt):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (H, W, 3), np.uint8)).save(
        path, format=fmt
    )
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    return path


def _record(path, annotations=(), size=(W, H)):
    return {
        "file_name": str(path),
        "width": size[0],
        "height": size[1],
        "image_id": 1,
        "annotations": [
            {"bbox": b, "bbox_mode": BoxMode.XYWH_ABS, "category_id": c, "iscrowd": 0}
            for b, c in annotations
        ],
    }


def _visdrone(tmp_path, rows: bytes, image_writer=None):
    images, annos = tmp_path / "images", tmp_path / "annotations"
    images.mkdir()
    annos.mkdir()
    (annos / "a.txt").write_bytes(rows)
    if image_writer is None:
        _png(images / "a.jpg")
    else:
        image_writer(images / "a.jpg")
    return images, annos


# ------------------------------------------------------------------ images: corrupt, missing


@pytest.mark.parametrize("fmt, suffix", [("JPEG", "jpg"), ("PNG", "png")])
def test_truncated_image_mapper_error_names_file(tmp_path, fmt, suffix):
    path = _truncated(tmp_path / f"t.{suffix}", fmt)
    for mapper in (YOLODatasetMapper(False, 32), YOLODatasetMapper(True, 32, **PLAIN)):
        with pytest.raises(ImageReadError, match="truncated or corrupt") as info:
            mapper(_record(path))
        assert info.value.path == str(path)
        assert str(info.value).startswith(f"{path}: ")


def test_truncated_image_passes_converter_header_check(tmp_path):
    """Converters read only the header (fast), so a truncated body is caught by the mapper."""
    images, annos = _visdrone(tmp_path, b"1,1,5,5,1,4,0,0\n", lambda p: _truncated(p, "JPEG"))
    coco, report = convert_visdrone(images, annos)
    assert len(coco["images"]) == 1 and report.clean


def test_corrupt_image_mapper_error_and_converter_counted_skip(tmp_path):
    path = tmp_path / "junk.jpg"
    path.write_bytes(b"not an image at all")
    with pytest.raises(ImageReadError, match="not an image Pillow can identify") as info:
        YOLODatasetMapper(False, 32)(_record(path))
    assert info.value.path == str(path)

    images, annos = _visdrone(tmp_path, b"1,1,5,5,1,4,0,0\n", lambda p: p.write_bytes(b"junk"))
    coco, report = convert_visdrone(images, annos)
    assert coco["images"] == [] and report.issues["unreadable_image"] == 1
    assert report.examples["unreadable_image"][0].startswith(str(images / "a.jpg"))


def test_missing_image_mapper_error_and_converter_counted_skip(tmp_path):
    path = tmp_path / "gone.jpg"
    with pytest.raises(ImageReadError, match="image file not found") as info:
        YOLODatasetMapper(False, 32)(_record(path))
    assert info.value.path == str(path)
    assert isinstance(info.value, OSError)

    images, annos = _visdrone(tmp_path, b"1,1,5,5,1,4,0,0\n", lambda p: None)
    coco, report = convert_visdrone(images, annos)
    assert coco["images"] == [] and report.issues["missing_image"] == 1
    with pytest.raises(ConversionError, match="missing_image"):
        convert_visdrone(images, annos, strict=True)


# ------------------------------------------------------------------ annotation rows


@pytest.mark.parametrize(
    "rows, line, needle",
    [
        (b"1,1,5,5,1,4,0,0\n1,1,5,5,1,4\n", 2, "expected 8 comma-separated values"),
        (b"1,1,5,5,1,4,0,0,0,0\n", 1, "got 10"),
        (b"1,1,five,5,1,4,0,0\n", 1, "field 'w' is not a finite number: 'five'"),
        (b"1,1,5,5,1,inf,0,0\n", 1, "field 'category' is not a finite number"),
        (b"1,1,5,5,1,13,0,0\n", 1, "category must be in 0..11, got 13"),  # unknown class id
    ],
)
def test_bad_rows_error_names_file_and_line(tmp_path, rows, line, needle):
    images, annos = _visdrone(tmp_path, rows)
    with pytest.raises(ConversionError) as info:
        convert_visdrone(images, annos)
    assert (info.value.path, info.value.line) == (str(annos / "a.txt"), line)
    assert needle in info.value.message
    assert str(info.value).startswith(f"{annos / 'a.txt'}:{line}: ")


def test_negative_zero_area_and_out_of_image_boxes_are_counted(tmp_path):
    rows = (
        b"5,5,-3,4,1,4,0,0\n"  # negative width
        b"5,5,4,0,1,4,0,0\n"  # zero height
        b"100,100,5,5,1,4,0,0\n"  # entirely outside the 40x30 image
        b"35,25,10,10,1,4,0,0\n"  # partly outside: clipped to 5x5
        b"1,1,5,5,1,4,0,0\n"  # fine
    )
    images, annos = _visdrone(tmp_path, rows)
    coco, report = convert_visdrone(images, annos)
    assert [a["bbox"] for a in coco["annotations"]] == [[35.0, 25.0, 5.0, 5.0], [1, 1, 5, 5]]
    assert dict(report.issues) == {
        "non_positive_size": 2,
        "zero_area_after_clip": 1,
        "clipped_box": 1,
    }
    assert report.examples["non_positive_size"][0] == f"{annos / 'a.txt'}:1: w=-3 h=4"
    assert "non_positive_size: 2" in report.format()


def test_mapper_clips_out_of_image_and_drops_degenerate_boxes(tmp_path):
    """Dataset dicts not made by our converters: the mapper repairs instead of crashing."""
    path = _png(tmp_path / "a.png")
    annos = [([-5, -5, 15, 15], 1), ([10, 10, 0, 5], 2), ([50, 50, 5, 5], 3), ([35, 20, 20, 20], 4)]
    out = YOLODatasetMapper(True, W, **PLAIN)(_record(path, annos))
    boxes = out["instances"].gt_boxes.tensor.numpy()
    np.testing.assert_allclose(boxes[:, [0, 2]].clip(0, W), boxes[:, [0, 2]])
    assert out["instances"].gt_classes.tolist() == [1, 4]


def test_unknown_category_id_in_coco_json(tmp_path):
    _png(tmp_path / "a.png")
    coco = {
        "images": [{"id": 1, "file_name": "a.png", "width": W, "height": H}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 7, "bbox": [1, 1, 5, 5], "iscrowd": 0}
        ],
        "categories": [{"id": 1, "name": "car"}],
    }
    path = tmp_path / "a.json"
    path.write_text(json.dumps(coco))
    with pytest.raises(KeyError, match="category_id=7 but this id does not exist"):
        load_coco_json_with_ignore(str(path), str(tmp_path), "bad_data_unknown_category")


def test_images_with_no_objects(tmp_path):
    images, annos = _visdrone(tmp_path, b"")
    coco, report = convert_visdrone(images, annos)
    assert len(coco["images"]) == 1 and coco["annotations"] == []
    assert report.stats["empty_annotation_files"] == 1 and report.clean
    out = YOLODatasetMapper(True, 32, **PLAIN)(_record(images / "a.jpg"))
    assert len(out["instances"]) == 0
    assert out["instances"].gt_boxes.tensor.shape == (0, 4)


# ------------------------------------------------------------------ image modes and sizes


@pytest.mark.parametrize(
    "mode, color, expected",
    [
        ("L", 7, (7, 7, 7)),
        ("LA", (7, 200), (7, 7, 7)),
        ("RGBA", (1, 2, 3, 4), (1, 2, 3)),  # alpha dropped, not blended
        ("P", 5, None),  # palette: whatever the palette says, as RGB
        ("I;16", 60000, (234, 234, 234)),  # 16 bit: high byte, 60000 >> 8 = 234
        ("I", 70000, (255, 255, 255)),  # 32-bit int saturates at 65535
    ],
)
def test_image_modes_become_uint8_rgb(tmp_path, mode, color, expected):
    path = tmp_path / "m.png"
    if mode == "I":
        Image.fromarray(np.full((H, W), color, np.int32)).save(tmp_path / "m.tif")
        path = tmp_path / "m.tif"
    else:
        _png(path, mode, color=color)
    image = read_image_rgb(path)
    assert image.shape == (H, W, 3) and image.dtype == np.uint8
    if expected is not None:
        assert tuple(image[0, 0]) == expected
    out = YOLODatasetMapper(False, 20)(_record(path))
    assert out["image"].shape == (3, 15, 20) and out["image"].dtype.is_floating_point is False


def test_16_bit_gradient_keeps_contrast(tmp_path):
    data = np.linspace(0, 65535, W * H).astype(np.uint16).reshape(H, W)
    Image.fromarray(data).save(tmp_path / "g.png")
    image = read_image_rgb(tmp_path / "g.png")
    np.testing.assert_array_equal(image[..., 0], (data >> 8).astype(np.uint8))
    assert image.min() == 0 and image.max() == 255


def test_very_large_image_error_and_converter_counted_skip(tmp_path, monkeypatch):
    """Pillow's decompression-bomb guard, lowered here so the test image can stay small."""
    path = _png(tmp_path / "big.png", size=(W, H))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", (W * H) // 3)  # error above 2x the limit
    with pytest.raises(ImageReadError, match="MAX_IMAGE_PIXELS") as info:
        YOLODatasetMapper(False, 32)(_record(path))
    assert info.value.path == str(path)
    with pytest.raises(ConversionError, match="unreadable image") as info:
        image_size(path)
    assert info.value.path == str(path)

    images, annos = _visdrone(tmp_path, b"1,1,5,5,1,4,0,0\n")
    coco, report = convert_visdrone(images, annos)
    assert coco["images"] == [] and report.issues["unreadable_image"] == 1


def test_large_image_within_limit_is_resized(tmp_path):
    path = _png(tmp_path / "large.png", size=(3000, 2000))
    out = YOLODatasetMapper(False, 64)(_record(path, size=(3000, 2000)))
    assert out["image"].shape == (3, 43, 64)
    assert (out["height"], out["width"]) == (2000, 3000)
