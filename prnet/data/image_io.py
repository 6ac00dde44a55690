"""Reading training/inference images: always ``(H, W, 3)`` uint8 RGB, or an error naming the file.

Detectron2's ``read_image`` already handles grayscale, palette, RGBA (alpha dropped) and the EXIF
orientation, but (a) a truncated, corrupt or too-large file raises PIL's own message, which does not
say which file of a 10k-image dataset broke, and (b) 16-bit grayscale PNGs (``I;16``, produced by
some thermal/aerial pipelines) are *clipped* to 255 by ``convert("RGB")``, i.e. come out white.
:func:`read_image_rgb` fixes both: 16-bit (and 32-bit integer) data is scaled to 8 bit by its high
byte (``v >> 8``, values above 65535 saturate), and every failure is an :class:`ImageReadError`.
"""

from __future__ import annotations

import os

import numpy as np
from detectron2.data import detection_utils as utils
from detectron2.utils.file_io import PathManager
from PIL import Image, UnidentifiedImageError

__all__ = ["ImageReadError", "read_image_rgb"]

_HIGH_DEPTH_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


class ImageReadError(OSError):
    """An image that cannot be decoded. ``.path`` names the file; the message says why."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def read_image_rgb(path: str | os.PathLike) -> np.ndarray:
    """Decode ``path`` as Detectron2 does (EXIF orientation applied) into ``(H, W, 3)`` uint8 RGB.

    Raises :class:`ImageReadError` for a missing, truncated, corrupt or over-large file (Pillow's
    ``Image.MAX_IMAGE_PIXELS`` guard; raise that limit deliberately for huge orthophotos).
    """
    try:
        with PathManager.open(os.fspath(path), "rb") as f:
            image = Image.open(f)
            image = utils._apply_exif_orientation(image)
            if image.mode in _HIGH_DEPTH_MODES:
                data = np.asarray(image, dtype=np.int64).clip(0, 65535) >> 8
                gray = data.astype(np.uint8)
                return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
            array = utils.convert_PIL_to_numpy(image, "RGB")
    except FileNotFoundError as e:
        raise ImageReadError(path, "image file not found") from e
    except Image.DecompressionBombError as e:
        raise ImageReadError(
            path,
            f"image too large for Pillow's MAX_IMAGE_PIXELS={Image.MAX_IMAGE_PIXELS} guard ({e}); "
            "raise PIL.Image.MAX_IMAGE_PIXELS if the file is trusted",
        ) from e
    except UnidentifiedImageError as e:
        raise ImageReadError(path, "not an image Pillow can identify (corrupt file?)") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageReadError(path, f"cannot decode image, truncated or corrupt ({e})") from e
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:  # pragma: no cover
        raise ImageReadError(path, f"decoded to {array.shape} {array.dtype}, not (H, W, 3) uint8")
    return array
