"""``read_image_rgb``: OpenCV decodes plain RGB JPEGs (fast) with exactly Pillow's pixels; every
other file keeps Pillow's decode, EXIF rotation and errors."""
import numpy as np
import pytest
from detectron2.data import detection_utils as utils
from PIL import Image

from prnet.data import image_io
from prnet.data.image_io import ImageReadError, read_image_rgb


def _scene(h: int, w: int, seed: int) -> np.ndarray:
    """Smooth gradients, hard edges and noise: what aerial JPEGs hold."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    image = np.stack([(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)), (x ^ y) & 255], -1)
    image[rng.random((h, w)) < 0.05] = 255
    return (image + rng.integers(0, 40, (h, w, 3))).clip(0, 255).astype(np.uint8)


def _pillow(path) -> np.ndarray:
    return utils.convert_PIL_to_numpy(utils._apply_exif_orientation(Image.open(path)), "RGB")


@pytest.mark.parametrize("size", [(64, 96), (75, 133), (1080, 1920)])
@pytest.mark.parametrize("quality, subsampling", [(95, 0), (75, 2), (50, 1)])
def test_opencv_decode_equals_pillows(tmp_path, monkeypatch, size, quality, subsampling):
    path = tmp_path / "a.jpg"
    Image.fromarray(_scene(*size, seed=quality)).save(path, quality=quality, subsampling=subsampling)
    used = []
    decode = image_io._decode_plain_jpeg
    monkeypatch.setattr(image_io, "_decode_plain_jpeg", lambda *a: used.append(1) or decode(*a))
    fast = read_image_rgb(path)
    assert used and fast.dtype == np.uint8 and fast.shape == (*size, 3)
    np.testing.assert_array_equal(fast, _pillow(path))


def test_exif_rotated_and_non_rgb_jpegs_keep_pillows_decode(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees: decoded 30 wide, 40 high
    rotated = tmp_path / "rotated.jpg"
    Image.fromarray(_scene(30, 40, 0)).save(rotated, exif=exif)
    gray = tmp_path / "gray.jpg"
    Image.fromarray(_scene(30, 40, 1)[:, :, 0]).save(gray)
    cmyk = tmp_path / "cmyk.jpg"
    Image.fromarray(_scene(30, 40, 2)).convert("CMYK").save(cmyk)
    for path, shape in ((rotated, (40, 30, 3)), (gray, (30, 40, 3)), (cmyk, (30, 40, 3))):
        image = Image.open(path)
        assert image_io._decode_plain_jpeg(image, path.read_bytes()) is None
        out = read_image_rgb(path)
        assert out.shape == shape
        np.testing.assert_array_equal(out, _pillow(path))


def test_truncated_jpeg_is_an_error_not_a_grey_image(tmp_path):
    whole = tmp_path / "whole.jpg"
    Image.fromarray(_scene(200, 300, 3)).save(whole, quality=90)
    data = whole.read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="truncated or corrupt"):
        read_image_rgb(path)
    trailing = tmp_path / "trailing.jpg"  # bytes after the end marker: Pillow decides
    trailing.write_bytes(data + b"vendor trailer")
    np.testing.assert_array_equal(read_image_rgb(trailing), _pillow(whole))
