import dataclasses

import numpy as np
import pytest
from pycocotools.cocoeval import Params

from prnet.evaluation import PRESETS, AreaRange, EvalPreset, available_presets, get_preset


def test_names_and_lookup():
    assert available_presets() == ["aitod", "coco", "synthetic", "uavdt", "visdrone"]
    assert get_preset("AITOD") is PRESETS["aitod"]
    custom = EvalPreset(name="mine", max_dets=(5, 50))
    assert get_preset(custom) is custom


def test_unknown_name_lists_allowed():
    with pytest.raises(ValueError, match="aitod, coco, synthetic, uavdt, visdrone"):
        get_preset("voc")


def test_coco_preset_is_pycocotools_default():
    p = Params(iouType="bbox")
    coco = PRESETS["coco"]
    assert np.array_equal(np.asarray(coco.iou_thresholds), p.iouThrs)
    assert list(coco.max_dets) == p.maxDets
    assert [[a.lo, a.hi] for a in coco.area_ranges] == p.areaRng
    assert [a.name for a in coco.area_ranges] == p.areaRngLbl


def test_aitod_and_visdrone_settings():
    aitod = PRESETS["aitod"]
    assert aitod.max_dets == (1, 100, 1500)
    bins = {a.suffix: (a.lo, a.hi) for a in aitod.area_ranges}
    assert bins["vt"] == (0, 64) and bins["t"] == (64, 256) and bins["s"] == (256, 1024)
    assert bins["m"][0] == 1024
    vis = PRESETS["visdrone"]
    assert vis.per_image_max_dets == 500 and vis.max_dets[-1] == 500
    assert vis.ignore_regions and vis.interpolation == "voc_all_point"
    assert [a.name for a in vis.area_ranges] == ["all"]
    assert PRESETS["uavdt"].extra_ap_ious == (0.7,) and PRESETS["uavdt"].ignore_regions


def test_with_max_dets():
    assert PRESETS["coco"].with_max_dets(300).max_dets == (1, 10, 300)
    assert PRESETS["coco"].with_max_dets(300).per_image_max_dets is None
    vis = PRESETS["visdrone"].with_max_dets(2)
    assert vis.max_dets == (1, 2) and vis.per_image_max_dets == 2
    assert PRESETS["coco"].with_max_dets([1, 5, 20]).max_dets == (1, 5, 20)
    assert PRESETS["coco"].with_max_dets(None) is PRESETS["coco"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(iou_thresholds=(0.5, 1.5)), "IoU thresholds"),
        (dict(max_dets=(100, 10)), "max_dets"),
        (dict(area_ranges=(AreaRange("small", "s", 0, 10),)), "'all'"),
        (dict(interpolation="voc11"), "interpolation"),
        (dict(extra_ap_ious=(0.72,)), "extra AP IoU"),
        (dict(ignore_coverage=0.0), "ignore_coverage"),
    ],
)
def test_invalid_presets(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EvalPreset(name="bad", **kwargs)


def test_presets_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PRESETS["coco"].max_dets = (1,)
