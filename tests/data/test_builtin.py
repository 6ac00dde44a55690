"""Lazy registration of the aerial datasets, and the prepare scripts writing where it looks."""

from __future__ import annotations

import builtins
import io
import json
import os
import runpy
from pathlib import Path

import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from PIL import Image

from prnet.data.datasets import builtin
from prnet.data.datasets.builtin import AERIAL_SPLITS, aerial_split_paths, register_all_aerial

REPO = Path(__file__).resolve().parents[2]
EXPECTED_NAMES = {
    "visdrone2019_train",
    "visdrone2019_val",
    "visdrone2019_test-dev",
    *(f"aitod_{v}_{s}" for v in ("v1", "v2") for s in ("train", "val", "trainval", "test")),
    "uavdt_train",
    "uavdt_test",
}


@pytest.fixture
def restore_registry():
    """Tests re-point the names to tmp roots; put them back to the default root afterwards."""
    yield
    register_all_aerial()


def _prepare(script: str, argv: list[str]) -> int:
    """Run ``datasets/<script>``'s ``main`` in-process (the scripts are not a package)."""
    return runpy.run_path(str(REPO / "datasets" / script))["main"](argv)


def test_names_are_registered_on_import_with_the_default_root():
    assert EXPECTED_NAMES <= set(DatasetCatalog.list())
    assert set(AERIAL_SPLITS) == EXPECTED_NAMES
    root = os.path.expanduser(os.getenv("DETECTRON2_DATASETS", "datasets"))
    meta = MetadataCatalog.get("visdrone2019_val")
    assert meta.json_file == os.path.join(
        root, "VisDrone", "prnet_annotations", "visdrone2019_val.json"
    )


def test_registration_reads_no_file(tmp_path, monkeypatch, restore_registry):
    def no_disk(*args, **kwargs):
        raise AssertionError(f"registration touched the disk: {args}")

    for module, name in ((builtins, "open"), (io, "open"), (os, "stat"), (os, "listdir")):
        monkeypatch.setattr(module, name, no_disk)
    monkeypatch.setattr(builtin, "load_coco_json_with_ignore", no_disk)
    names = register_all_aerial(tmp_path / "absent")
    monkeypatch.undo()

    assert set(names) == EXPECTED_NAMES
    root = str(tmp_path / "absent")
    expected = {
        "visdrone2019_test-dev": (
            f"{root}/VisDrone/prnet_annotations/visdrone2019_test-dev.json",
            f"{root}/VisDrone/VisDrone2019-DET-test-dev/images",
            "visdrone",
            10,
        ),
        "aitod_v2_trainval": (
            f"{root}/AI-TOD/prnet_annotations/aitod_v2_trainval.json",
            f"{root}/AI-TOD/images/trainval",
            "aitod",
            8,
        ),
        "uavdt_test": (
            f"{root}/UAVDT/prnet_annotations/uavdt_test.json",
            f"{root}/UAVDT/UAV-benchmark-M",
            "uavdt",
            3,
        ),
    }
    for name, (json_file, image_root, protocol, k) in expected.items():
        meta = MetadataCatalog.get(name)
        assert (meta.json_file, meta.image_root, meta.protocol) == (json_file, image_root, protocol)
        assert meta.evaluator_type == "prnet"
        assert len(meta.thing_classes) == k
        assert meta.thing_dataset_id_to_contiguous_id == {i + 1: i for i in range(k)}
        assert aerial_split_paths(name, root) == (json_file, image_root)
    assert MetadataCatalog.get("uavdt_train").thing_classes == ["car", "truck", "bus"]
    assert not (tmp_path / "absent").exists()


def test_register_twice_is_harmless_and_a_new_root_repoints(tmp_path, restore_registry):
    register_all_aerial(tmp_path / "a")
    register_all_aerial(tmp_path / "a")
    assert MetadataCatalog.get("uavdt_train").json_file.startswith(str(tmp_path / "a"))
    register_all_aerial(tmp_path / "b")
    assert MetadataCatalog.get("uavdt_train").json_file.startswith(str(tmp_path / "b"))
    assert MetadataCatalog.get("uavdt_train").protocol == "uavdt"


def test_missing_json_error_names_the_prepare_command(tmp_path, restore_registry):
    register_all_aerial(tmp_path)
    with pytest.raises(FileNotFoundError) as info:
        DatasetCatalog.get("aitod_v1_test")
    message = str(info.value)
    assert str(tmp_path / "AI-TOD" / "prnet_annotations" / "aitod_v1_test.json") in message
    assert f"datasets/prepare_aitod.py --root {tmp_path / 'AI-TOD'}" in message
    with pytest.raises(KeyError, match="unknown aerial dataset"):
        aerial_split_paths("visdrone2019_test-challenge")


def test_prepare_visdrone_then_load_records_with_ignore(tmp_path, restore_registry, capsys):
    split = tmp_path / "VisDrone" / "VisDrone2019-DET-val"
    (split / "annotations").mkdir(parents=True)
    (split / "images").mkdir()
    Image.new("RGB", (50, 40)).save(split / "images" / "0001.jpg")
    (split / "annotations" / "0001.txt").write_bytes(
        b"1,2,10,8,1,4,0,0\r\n5,5,4,4,0,2,0,0\r\n30,0,20,10,0,0,0,0\r\n9,9,3,3,0,11,0,0\r\n"
    )
    assert _prepare("prepare_visdrone.py", ["--root", str(tmp_path / "VisDrone")]) == 0
    out = capsys.readouterr().out
    assert "split train skipped" in out and "category_11_others: 1" in out
    report = json.loads(
        (tmp_path / "VisDrone/prnet_annotations/visdrone2019_val.report.json").read_text()
    )
    assert report["dropped"] == {"category_11_others": 1} and report["issues"] == {}

    register_all_aerial(tmp_path)
    (record,) = DatasetCatalog.get("visdrone2019_val")
    assert record["file_name"] == str(split / "images" / "0001.jpg")
    assert (record["width"], record["height"]) == (50, 40)
    assert record["ignore_regions"] == [[30.0, 0.0, 50.0, 10.0]]
    got = [(a["bbox"], a["category_id"], a["iscrowd"]) for a in record["annotations"]]
    assert got == [([1.0, 2.0, 10.0, 8.0], 3, 0), ([5.0, 5.0, 4.0, 4.0], 1, 1)]  # contiguous ids
    assert MetadataCatalog.get("visdrone2019_val").thing_classes[3] == "car"


def test_prepare_scripts_report_errors_with_file_and_line(tmp_path, capsys):
    split = tmp_path / "VisDrone2019-DET-val"
    (split / "annotations").mkdir(parents=True)
    (split / "images").mkdir()
    Image.new("RGB", (8, 8)).save(split / "images" / "a.jpg")
    (split / "annotations" / "a.txt").write_text("1,2,3,4,1,4,0,0\n1,2,3\n")
    assert _prepare("prepare_visdrone.py", ["--root", str(tmp_path)]) == 2
    assert f"{split / 'annotations' / 'a.txt'}:2: expected 8" in capsys.readouterr().err
    assert not (tmp_path / "prnet_annotations").exists()


def test_prepare_uavdt_and_aitod(tmp_path, restore_registry, capsys):
    uavdt = tmp_path / "UAVDT"
    gt = uavdt / "UAV-benchmark-MOTD_v1.0" / "GT"
    gt.mkdir(parents=True)
    for seq in ("M0101", "M0203"):
        (gt / f"{seq}_gt_whole.txt").write_text("1,1,2,2,6,4,1,1,1\n")
        (gt / f"{seq}_gt_ignore.txt").write_text("2,9,0,0,5,5,1,-1,-1\n")
        for frame in (1, 2):
            path = uavdt / "UAV-benchmark-M" / seq / f"img{frame:06d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (32, 16)).save(path)
    (tmp_path / "test.txt").write_text("M0203\n")
    argv = ["--root", str(uavdt), "--test-sequences", str(tmp_path / "test.txt")]
    assert _prepare("prepare_uavdt.py", argv) == 0
    assert "2 sequences: 1 train, 1 test" in capsys.readouterr().out

    aitod = tmp_path / "AI-TOD"
    (aitod / "annotations").mkdir(parents=True)
    (aitod / "images" / "val").mkdir(parents=True)
    Image.new("RGB", (16, 16)).save(aitod / "images" / "val" / "p.png")
    source = {
        "images": [{"id": 5, "file_name": "p.png", "width": 16, "height": 16}],
        "annotations": [{"id": 1, "image_id": 5, "category_id": 1, "bbox": [1, 1, 4, 4]}],
        "categories": [{"id": 1, "name": "ship"}],
    }
    (aitod / "annotations" / "aitodv2_val.json").write_text(json.dumps(source))
    assert _prepare("prepare_aitod.py", ["--root", str(aitod), "--version", "v2"]) == 0
    assert "AI-TOD v2 train skipped" in capsys.readouterr().out
    assert _prepare("prepare_aitod.py", ["--root", str(aitod), "--splits", "test"]) == 2
    assert "aitod_test_v1.json" in capsys.readouterr().err

    register_all_aerial(tmp_path)
    train, test = DatasetCatalog.get("uavdt_train"), DatasetCatalog.get("uavdt_test")
    assert [r["file_name"] for r in test] == [
        str(uavdt / "UAV-benchmark-M" / "M0203" / f"img{f:06d}.jpg") for f in (1, 2)
    ]
    assert [r["ignore_regions"] for r in train] == [[], [[0.0, 0.0, 5.0, 5.0]]]
    assert [len(r["annotations"]) for r in train] == [1, 0]
    (record,) = DatasetCatalog.get("aitod_v2_val")
    assert record["annotations"][0]["category_id"] == 3  # "ship" is the 4th AI-TOD class
    assert record["ignore_regions"] == []
