"""Scoring protocols as named presets of one COCO-compatible evaluator.

The same predictions score very differently under different protocols (see
``docs/paper.md``), so every number prnet reports carries the name of the preset that
produced it. A preset is a small frozen dataclass; pass a name (``get_preset("aitod")``) or your own
``EvalPreset`` anywhere a preset is accepted.

Area ranges follow pycocotools: both ends are inclusive and compared with the ground truth's
``area`` field (detections use ``w * h``), so an object of exactly 8 x 8 px is in both the AI-TOD
"very tiny" and "tiny" bins, as in the AI-TOD cocoapi fork.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .ignore_regions import IGNORE_RULES

__all__ = [
    "AreaRange",
    "EvalPreset",
    "PRESETS",
    "COCO_IOU_THRESHOLDS",
    "get_preset",
    "available_presets",
]

# Exactly the array pycocotools' Params builds, so the ``coco`` preset is pycocotools bit for bit.
COCO_IOU_THRESHOLDS: tuple[float, ...] = tuple(
    float(t) for t in np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
)
_MAX_AREA = 1e5**2
INTERPOLATIONS = ("coco101", "voc_all_point")
CLASS_WEIGHTINGS = ("none", "images")


@dataclass(frozen=True)
class AreaRange:
    """An object-size bin: ``name`` is pycocotools' label, ``suffix`` names the metric (``APs``).

    ``lo`` and ``hi`` are areas in px² (inclusive on both ends, as in pycocotools).
    """

    name: str
    suffix: str
    lo: float
    hi: float

    def __post_init__(self):
        if not 0 <= self.lo <= self.hi:
            raise ValueError(
                f"AreaRange {self.name!r}: need 0 <= lo <= hi, got {self.lo}, {self.hi}"
            )


_ALL = AreaRange("all", "", 0.0**2, _MAX_AREA)


@dataclass(frozen=True)
class EvalPreset:
    """One scoring protocol.

    Attributes:
        name: the protocol's name, written next to every number.
        iou_thresholds: IoU thresholds averaged into ``AP`` (``AP50``/``AP75`` read at 0.5/0.75).
        max_dets: pycocotools ``maxDets`` (ascending); AP is reported at the last one. With
            ``voc_all_point`` interpolation they count detections per image over all classes.
        area_ranges: size bins; the first must be ``all`` (AP/AR without a suffix).
        interpolation: ``coco101`` (pycocotools' 101 recall points) or ``voc_all_point`` (the area
            under the monotone precision envelope, as in PASCAL VOC 2010+ and the VisDrone toolkit).
        ignore_regions: drop ground truth and detections that lie mostly inside the image's
            ``ignore_regions`` before matching.
        ignore_coverage: "mostly": the fraction of a box's area inside the union of the regions
            from which the box is dropped (>=).
        ignore_rule: how that fraction is measured (see ``ignore_regions``). ``exact``: box
            geometry. ``visdrone_raster``: the official VisDrone toolkit's pixel raster (box
            coordinates rounded, each region one pixel larger on its left and top sides).
        per_image_max_dets: keep only this many top-scored detections per image over all classes
            before matching (None: keep all; pycocotools then caps per image *and class*).
        extra_ap_ious: further single-threshold APs to report, e.g. ``(0.7,)`` adds ``AP70``.
        class_weighting: how AP and AR are averaged over classes. ``none``: a plain mean over the
            classes with ground truth in the recall denominator (pycocotools: non-ignored).
            ``images``: each class weighted by the number of scored images that hold a
            ground-truth box of it (ignored boxes included, after the ignore-region filter), as
            the official VisDrone toolkit's calcAccuracy averages; a class present only as
            ignored boxes then counts as 0.
        recall_counts_ignored: ``voc_all_point`` only: divide recall by all ground-truth boxes of
            the class, ignored (crowd / score-0) ones included, as the official VisDrone
            toolkit's calcAccuracy does, instead of by the non-ignored ones (pycocotools, VOC).
            Precision is unaffected: a detection on an ignored box is still neither TP nor FP.
    """

    name: str
    iou_thresholds: tuple[float, ...] = COCO_IOU_THRESHOLDS
    max_dets: tuple[int, ...] = (1, 10, 100)
    area_ranges: tuple[AreaRange, ...] = (
        _ALL,
        AreaRange("small", "s", 0.0**2, 32.0**2),
        AreaRange("medium", "m", 32.0**2, 96.0**2),
        AreaRange("large", "l", 96.0**2, _MAX_AREA),
    )
    interpolation: str = "coco101"
    ignore_regions: bool = False
    ignore_coverage: float = 0.5
    ignore_rule: str = "exact"
    per_image_max_dets: int | None = None
    extra_ap_ious: tuple[float, ...] = ()
    class_weighting: str = "none"
    recall_counts_ignored: bool = False

    def __post_init__(self):
        ious = self.iou_thresholds
        if not ious or any(not 0.0 < t <= 1.0 for t in ious):
            raise ValueError(f"preset {self.name!r}: IoU thresholds must lie in (0, 1], got {ious}")
        if list(ious) != sorted(set(ious)):
            raise ValueError(f"preset {self.name!r}: IoU thresholds must be increasing, got {ious}")
        dets = self.max_dets
        if not dets or any(int(m) != m or m < 1 for m in dets) or list(dets) != sorted(set(dets)):
            raise ValueError(
                f"preset {self.name!r}: max_dets must be increasing positive integers, got {dets}"
            )
        if not self.area_ranges or self.area_ranges[0].name != "all":
            raise ValueError(f"preset {self.name!r}: the first area range must be named 'all'")
        if len({a.name for a in self.area_ranges}) != len(self.area_ranges):
            raise ValueError(f"preset {self.name!r}: area range names must be unique")
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(
                f"preset {self.name!r}: interpolation must be one of {INTERPOLATIONS}, "
                f"got {self.interpolation!r}"
            )
        if self.class_weighting not in CLASS_WEIGHTINGS:
            raise ValueError(
                f"preset {self.name!r}: class_weighting must be one of {CLASS_WEIGHTINGS}, "
                f"got {self.class_weighting!r}"
            )
        if self.ignore_rule not in IGNORE_RULES:
            raise ValueError(
                f"preset {self.name!r}: ignore_rule must be one of {IGNORE_RULES}, "
                f"got {self.ignore_rule!r}"
            )
        if self.recall_counts_ignored and self.interpolation != "voc_all_point":
            raise ValueError(
                f"preset {self.name!r}: recall_counts_ignored needs interpolation='voc_all_point'"
            )
        if not 0.0 < self.ignore_coverage <= 1.0:
            raise ValueError(f"preset {self.name!r}: ignore_coverage must lie in (0, 1]")
        if self.per_image_max_dets is not None and self.per_image_max_dets < 1:
            raise ValueError(f"preset {self.name!r}: per_image_max_dets must be >= 1 or None")
        for t in self.extra_ap_ious:
            if not np.isclose(ious, t).any():
                raise ValueError(
                    f"preset {self.name!r}: extra AP IoU {t} is not one of the IoU thresholds"
                )

    def with_max_dets(self, max_dets: int | Sequence[int] | None) -> EvalPreset:
        """A copy with another detection budget.

        An int replaces the last ``max_dets`` entry (the one AP is read at; smaller entries not
        below it are kept) and the per-image cap if the preset has one; a sequence replaces the
        whole list.
        """
        if max_dets is None:
            return self
        if isinstance(max_dets, (int, np.integer)):
            dets = (*(m for m in self.max_dets[:-1] if m < max_dets), int(max_dets))
        else:
            dets = tuple(int(m) for m in max_dets)
        cap = None if self.per_image_max_dets is None else dets[-1]
        return dataclasses.replace(self, max_dets=dets, per_image_max_dets=cap)


_AITOD_AREAS = (
    _ALL,
    AreaRange("verytiny", "vt", 0.0**2, 8.0**2),
    AreaRange("tiny", "t", 8.0**2, 16.0**2),
    AreaRange("small", "s", 16.0**2, 32.0**2),
    AreaRange("medium", "m", 32.0**2, _MAX_AREA),
)

PRESETS: dict[str, EvalPreset] = {
    # Plain pycocotools.
    "coco": EvalPreset(name="coco"),
    # AI-TOD cocoapi fork: four tiny-object bins, up to 1500 detections per image.
    "aitod": EvalPreset(name="aitod", max_dets=(1, 100, 1500), area_ranges=_AITOD_AREAS),
    # prnet's built-in synthetic set: AI-TOD's bins and detections per image, plus the ignore-region
    # filter (its ignore regions hold unlabelled objects that must not count as false positives).
    "synthetic": EvalPreset(
        name="synthetic", max_dets=(1, 100, 1500), area_ranges=_AITOD_AREAS, ignore_regions=True
    ),
    # VisDrone2019-DET toolkit: ignore-region filter on its pixel raster, top 500 per image, VOC
    # all-point AP with ignored boxes in the recall denominator, class mean weighted by the number
    # of images holding each class.
    "visdrone": EvalPreset(
        name="visdrone",
        max_dets=(1, 10, 100, 500),
        area_ranges=(_ALL,),
        interpolation="voc_all_point",
        ignore_regions=True,
        ignore_rule="visdrone_raster",
        per_image_max_dets=500,
        class_weighting="images",
        recall_counts_ignored=True,
    ),
    # UAVDT-DET research practice (COCO AP) plus the benchmark's AP at IoU 0.7.
    "uavdt": EvalPreset(name="uavdt", ignore_regions=True, extra_ap_ious=(0.7,)),
}


def available_presets() -> list[str]:
    return sorted(PRESETS)


def get_preset(preset: str | EvalPreset) -> EvalPreset:
    """Look a preset up by name; an ``EvalPreset`` passes through unchanged."""
    if isinstance(preset, EvalPreset):
        return preset
    if not isinstance(preset, str) or preset.lower() not in PRESETS:
        raise ValueError(
            f"Unknown evaluation preset {preset!r}; allowed: {', '.join(available_presets())} "
            "(or an EvalPreset instance)."
        )
    return PRESETS[preset.lower()]
