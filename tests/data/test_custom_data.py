"""Custom data in one step (docs/custom_data.md): ``register_coco``, ``register_yolo``,
``model.num_classes`` from the metadata, ``browse``; and the documented example end to end."""

import json
import os
import re

import numpy as np
import pytest
from detectron2.config import LazyConfig
from detectron2.data import DatasetCatalog, MetadataCatalog
from PIL import Image

from prnet.config import ConfigError, check_config, resolve_num_classes
from prnet.data import DataCheckError, register_coco, register_yolo
from prnet.data.check import DatasetFileError
from prnet.utils.testing import TINY_OVERRIDES, repo_root

CLASSES = ("car", "person")
SIZE = 64
# (x, y, w, h, class index) per image; sides 4 / 10 / 20 / 40 px: one AI-TOD bin each
# (very tiny < 8, tiny 8-16, small 16-32, medium >= 32)
BOXES = [
    [(5, 5, 4, 4, 0), (20, 20, 10, 10, 1), (2, 30, 20, 20, 0)],
    [(10, 10, 40, 40, 1), (52, 52, 4, 4, 1)],
    [(30, 4, 10, 10, 0), (3, 3, 4, 4, 0), (40, 40, 20, 20, 1)],
    [(8, 8, 10, 10, 1)],
]
BINS = {"verytiny": (0, 8), "tiny": (8, 16), "small": (16, 32), "medium": (32, 1e9)}
IGNORE = {2: [[44, 0, 20, 16]]}  # image index -> ignore regions (XYWH)
CATEGORY_IDS = (3, 7)  # not 1..K: the id map must be used


def expected_bins():
    counts = {"all": dict.fromkeys(BINS, 0), "per_class": {c: dict.fromkeys(BINS, 0) for c in CLASSES}}
    for boxes in BOXES:
        for _, _, w, _, cls in boxes:
            name = next(n for n, (lo, hi) in BINS.items() if lo <= w < hi)
            counts["all"][name] += 1
            counts["per_class"][CLASSES[cls]][name] += 1
    return counts


def _image(path, seed):
    """A textured image with a bright square on each box (so a few steps can learn something)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 80, (SIZE, SIZE, 3), dtype=np.uint8)
    for x, y, w, h, cls in BOXES[seed % len(BOXES)]:
        pixels[y : y + h, x : x + w] = (230, 40, 40) if cls == 0 else (40, 40, 230)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(pixels).save(path)


def make_coco(root, split="train"):
    """``<root>/images/<split>/*.png`` and ``<root>/annotations/<split>.json``."""
    images, annotations = [], []
    for i, boxes in enumerate(BOXES):
        name = f"{split}_{i}.png"
        _image(os.path.join(root, "images", split, name), i)
        image = {"id": 100 + i, "file_name": name, "width": SIZE, "height": SIZE}
        if i in IGNORE:
            image["ignore_regions"] = IGNORE[i]
        images.append(image)
        for x, y, w, h, cls in boxes:
            annotations.append({"id": len(annotations) + 1, "image_id": 100 + i, "bbox": [x, y, w, h],
                                "category_id": CATEGORY_IDS[cls], "area": w * h, "iscrowd": 0})
    categories = [{"id": c, "name": n} for c, n in zip(CATEGORY_IDS, CLASSES)][::-1]  # unsorted
    json_file = os.path.join(root, "annotations", f"{split}.json")
    os.makedirs(os.path.dirname(json_file), exist_ok=True)
    with open(json_file, "w") as f:
        json.dump({"images": images, "annotations": annotations, "categories": categories}, f)
    return json_file, os.path.join(root, "images", split)


def make_yolo(root):
    """``<root>/data.yaml`` (names as a dict) with train and val splits of the same images."""
    for split in ("train", "val"):
        for i, boxes in enumerate(BOXES):
            _image(os.path.join(root, "images", split, f"{i}.png"), i)
            lines = [f"{cls} {(x + w / 2) / SIZE} {(y + h / 2) / SIZE} {w / SIZE} {h / SIZE}"
                     for x, y, w, h, cls in boxes]
            label = os.path.join(root, "labels", split, f"{i}.txt")
            os.makedirs(os.path.dirname(label), exist_ok=True)
            with open(label, "w") as f:
                f.write("\n".join(lines) + "\n")
    with open(os.path.join(root, "data.yaml"), "w") as f:
        f.write("path: .\ntrain: images/train\nval: images/val\nnames:\n  0: car\n  1: person\n")
    return os.path.join(root, "data.yaml")


@pytest.fixture
def unregister():
    names = []
    yield names
    for name in names:
        for catalog in (DatasetCatalog, MetadataCatalog):
            if name in catalog.list():
                catalog.remove(name)


def _xyxy(box):
    x, y, w, h = box[:4]
    return [x, y, x + w, y + h]


def test_register_coco_metadata_dicts_and_ignore_regions(tmp_path, unregister):
    json_file, image_root = make_coco(str(tmp_path))
    unregister.append(register_coco("custom_coco_a", json_file, image_root))
    meta = MetadataCatalog.get("custom_coco_a")
    assert meta.thing_classes == list(CLASSES)  # sorted by category id
    assert meta.thing_dataset_id_to_contiguous_id == {3: 0, 7: 1}
    assert meta.json_file == json_file and meta.image_root == image_root
    assert meta.evaluator_type == "prnet" and meta.protocol == "synthetic"  # it has ignore regions
    dicts = DatasetCatalog.get("custom_coco_a")
    assert [d["image_id"] for d in dicts] == [100, 101, 102, 103]
    for record, boxes in zip(dicts, BOXES):
        got = [(list(a["bbox"]), a["category_id"]) for a in record["annotations"]]
        assert got == [([x, y, w, h], cls) for x, y, w, h, cls in boxes]
        assert os.path.isfile(record["file_name"])
    assert dicts[2]["ignore_regions"] == [_xyxy(IGNORE[2][0])]
    assert dicts[0]["ignore_regions"] == []

    # without ignore regions: none in the dicts, the preset without the filter
    unregister.append(register_coco("custom_coco_b", json_file, image_root, ignore_regions=False))
    assert MetadataCatalog.get("custom_coco_b").protocol == "aitod"
    assert all(d["ignore_regions"] == [] for d in DatasetCatalog.get("custom_coco_b"))
    # registering a name again replaces it
    register_coco("custom_coco_b", json_file, image_root, protocol="coco")
    assert MetadataCatalog.get("custom_coco_b").protocol == "coco"


def test_register_coco_errors_name_file_and_record(tmp_path, unregister):
    json_file, image_root = make_coco(str(tmp_path))
    with open(json_file) as f:
        coco = json.load(f)
    coco["images"][1]["id"] = 100  # twice
    coco["annotations"][0]["category_id"] = 5
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(coco))
    with pytest.raises(DatasetFileError) as e:
        register_coco("custom_coco_bad", bad, image_root)
    message = str(e.value)
    assert str(bad) in message
    assert "images[1] (id 100, 'train_1.png'): id 100 already used by images[0]" in message
    assert "annotations[0] (id 1, image_id 100" in message and "category_id=5" in message
    assert "custom_coco_bad" not in DatasetCatalog.list()
    with pytest.raises(FileNotFoundError, match="image folder .*nowhere does not exist"):
        register_coco("custom_coco_bad", json_file, tmp_path / "nowhere")
    with pytest.raises(ValueError, match="Unknown evaluation preset 'cocoo'"):
        register_coco("custom_coco_bad", json_file, image_root, protocol="cocoo")


def test_register_yolo_matches_the_coco_registration(tmp_path, unregister):
    data_yaml = make_yolo(str(tmp_path / "yolo"))
    cache = tmp_path / "cache"
    unregister.append(register_yolo("custom_yolo_train", data_yaml, "train", cache_dir=cache))
    meta = MetadataCatalog.get("custom_yolo_train")
    assert meta.thing_classes == list(CLASSES) and meta.split == "train"
    assert meta.thing_dataset_id_to_contiguous_id == {1: 0, 2: 1}
    assert meta.protocol == "aitod" and os.path.dirname(meta.json_file) == str(cache)
    dicts = DatasetCatalog.get("custom_yolo_train")
    assert [os.path.basename(d["file_name"]) for d in dicts] == [f"{i}.png" for i in range(4)]
    for record, boxes in zip(dicts, BOXES):
        assert (record["width"], record["height"]) == (SIZE, SIZE)  # from the header
        got = [(a["bbox"], a["category_id"]) for a in record["annotations"]]
        want = [([x, y, w, h], cls) for x, y, w, h, cls in boxes]
        assert [c for _, c in got] == [c for _, c in want]
        np.testing.assert_allclose([b for b, _ in got], [b for b, _ in want], atol=1e-9)
    with open(meta.json_file) as f:
        coco = json.load(f)
    assert [c["name"] for c in coco["categories"]] == list(CLASSES)
    assert len(coco["annotations"]) == sum(map(len, BOXES))

    # cached: the same json, not rewritten; a label edit converts again
    mtime = os.stat(meta.json_file).st_mtime_ns
    register_yolo("custom_yolo_train", data_yaml, "train", cache_dir=cache)
    assert MetadataCatalog.get("custom_yolo_train").json_file == meta.json_file
    assert os.stat(meta.json_file).st_mtime_ns == mtime
    label = tmp_path / "yolo" / "labels" / "train" / "3.txt"
    label.write_text("0 0.5 0.5 0.25 0.25\n1 0.1 0.1 0.2 0.1 0.2 0.3 0.1 0.3\n")  # box + polygon
    register_yolo("custom_yolo_train", data_yaml, "train", cache_dir=cache)
    assert MetadataCatalog.get("custom_yolo_train").json_file != meta.json_file
    record = DatasetCatalog.get("custom_yolo_train")[3]
    np.testing.assert_allclose([a["bbox"] for a in record["annotations"]],
                               [[24, 24, 16, 16], [6.4, 6.4, 6.4, 12.8]], atol=1e-6)
    # names as a list, a split given as a .txt list of images
    (tmp_path / "yolo" / "val.txt").write_text("images/val/1.png\n./images/val/0.png\n")
    other = tmp_path / "yolo" / "list.yaml"
    other.write_text("train: images/train\nval: val.txt\nnames: [car, person]\nnc: 2\n")
    unregister.append(register_yolo("custom_yolo_list", other, "val", cache_dir=cache))
    names = [os.path.basename(d["file_name"]) for d in DatasetCatalog.get("custom_yolo_list")]
    assert names == ["1.png", "0.png"]


def test_register_yolo_bad_lines_name_file_and_line(tmp_path, unregister):
    data_yaml = make_yolo(str(tmp_path))
    labels = tmp_path / "labels" / "train"
    (labels / "0.txt").write_text("0 0.5 0.5 0.1 0.1\n0 0.5 0.5 0.1\n\n2 0.5 0.5 0.1 0.1\n")
    (labels / "1.txt").write_text("1 12 30 5 5\n0 0.5 abc 0.1 0.1\n1 0.5 0.5 0 0.1\n")
    with pytest.raises(DataCheckError) as e:
        register_yolo("custom_yolo_bad", data_yaml, "train", cache_dir=tmp_path / "cache")
    message = str(e.value)
    assert f"{data_yaml} (train): cannot read this YOLO dataset" in message
    assert "5 x bad_label_line" in message
    for where, what in [
        ("0.txt:2", "expected 5 values 'class cx cy w h'"),
        ("0.txt:4", "class 2 is not one of 0..1"),
        ("1.txt:1", "coordinates must be normalised to 0..1"),
        ("1.txt:2", "expected numbers"),
        ("1.txt:3", "box width and height must be > 0"),
    ]:
        assert re.search(re.escape(f"{labels / where}: {what}"), message), (where, message)
    assert "custom_yolo_bad" not in DatasetCatalog.list()


@pytest.mark.parametrize("text, error", [
    ("train: images/train\n", "no 'names'"),
    ("train: images/train\nnames: [a, b]\nnc: 3\n", "nc=3 but 'names' lists 2 classes"),
    ("train: images/train\nnames: {0: a, 2: b}\n", "'names' keys must be the class indices 0..1"),
    ("val: images/val\nnames: [a]\n", "no 'train' entry \\(splits given: val\\)"),
    ("train: nowhere\nnames: [a]\n", "nowhere is neither a folder of images"),
    ("train: [images/train\n", "not valid YAML"),
])
def test_register_yolo_yaml_errors(tmp_path, text, error):
    make_yolo(str(tmp_path))
    (tmp_path / "data.yaml").write_text(text)
    with pytest.raises(DataCheckError, match=error):
        register_yolo("custom_yolo_yaml", tmp_path / "data.yaml", "train", cache_dir=tmp_path / "c")


def _config(train, test, num_classes):
    cfg = LazyConfig.load(os.path.join(repo_root(), "configs", "PRNet", "prnet_n.py"))
    cfg.dataloader.train.dataset.names = train
    cfg.dataloader.test.dataset.names = test
    cfg.model.num_classes = num_classes
    return cfg


def test_num_classes_from_metadata_and_checked(tmp_path, unregister):
    json_file, image_root = make_coco(str(tmp_path))
    unregister.append(register_coco("custom_nc", json_file, image_root))
    assert resolve_num_classes(_config("custom_nc", "custom_nc", None)).model.num_classes == 2
    assert resolve_num_classes(_config("custom_nc", "custom_nc", 2)).model.num_classes == 2
    with pytest.raises(ConfigError) as e:  # set and wrong: both values named, train and test
        resolve_num_classes(_config("custom_nc", "synthetic_aerial_val", 7))
    assert ("model.num_classes=7 but there are 2 in dataset 'custom_nc' "
            "(dataloader.train.dataset.names: car, person)") in str(e.value)
    assert "synthetic_aerial_val" not in str(e.value)  # 7 classes: agrees
    with pytest.raises(ConfigError, match=r"model.num_classes=2 but there are 7 in dataset "
                       r"'synthetic_aerial_val' \(dataloader.test.dataset.names"):
        resolve_num_classes(_config("custom_nc", "synthetic_aerial_val", None))
    # loading a config fills a null value and leaves a set one alone (prediction, analysis)
    assert check_config(_config("custom_nc", "custom_nc", None)).model.num_classes == 2
    assert check_config(_config("custom_nc", "custom_nc", 10)).model.num_classes == 10
    # no metadata to take it from
    DatasetCatalog.register("custom_nc_bare", lambda: [])
    unregister.append("custom_nc_bare")
    with pytest.raises(ConfigError, match="model.num_classes is null .* no registered dataset at "
                       "dataloader.train.dataset.names has 'thing_classes'"):
        check_config(_config("custom_nc_bare", "custom_nc", None))
    # the shared model configs leave it to the dataset
    for name in ("prnet", "fcos", "retinanet"):
        path = os.path.join(repo_root(), "configs", "common", "models", f"{name}.py")
        assert LazyConfig.load(path).model.num_classes is None


def _docs_example():
    """The config file of docs/custom_data.md, as written there."""
    with open(os.path.join(repo_root(), "docs", "custom_data.md"), encoding="utf-8") as f:
        text = f.read()
    match = re.search(r"<!-- example: configs/custom/my_data.py -->\n```python\n(.*?)```", text, re.S)
    assert match, "docs/custom_data.md lost its example config"
    return match.group(1)


def test_docs_example_end_to_end(tmp_path, unregister):
    """The documented route: a COCO and a YOLO dataset registered, a config file that registers
    them (docs/custom_data.md), training with model.num_classes from the metadata, evaluation,
    evaluation only, and browse."""
    from prnet.cli import browse
    from prnet.engine import train_loop

    data = tmp_path / "datasets" / "my_data"
    make_coco(str(data), "train"), make_coco(str(data), "val")
    data_yaml = make_yolo(str(tmp_path / "datasets" / "my_yolo"))
    # the docs' config, at configs/custom/ next to the repository's configs (relative imports)
    configs = tmp_path / "configs"
    (configs / "custom").mkdir(parents=True)
    for folder in ("PRNet", "common"):
        (configs / folder).symlink_to(os.path.join(repo_root(), "configs", folder))
    example = _docs_example().replace('"datasets/my_data', f'"{tmp_path}/datasets/my_data')
    config = configs / "custom" / "my_data.py"
    config.write_text(example)
    unregister += ["my_train", "my_val", "my_yolo_train", "my_yolo_val", "browse_coco",
                   "browse_yolo_val"]
    out = tmp_path / "out"
    # 2 iterations, one evaluation at the end (no EMA: it would add a second one)
    schedule = ["train.max_iter=2", "train.eval_period=2", "train.checkpointer.period=2",
                "train.ema.enabled=False", "train.log_period=1"]
    argv = ["--config-file", str(config), *TINY_OVERRIDES, *schedule, f"train.output_dir={out}"]
    trainer = train_loop.main(train_loop.argument_parser().parse_args(argv))
    model = trainer.model.module if hasattr(trainer.model, "module") else trainer.model
    assert model.num_classes == 2  # from my_train's thing_classes; prnet_s.py says 7
    assert MetadataCatalog.get("my_train").thing_classes == list(CLASSES)
    report = json.loads((out / "inference" / "metrics.json").read_text())
    assert report["preset"] == "aitod" and report["num_images"] == len(BOXES)
    assert {"AP", "APvt", "APt", "APs", "APm"} <= set(report["metrics"])
    # evaluation only, on the YOLO val split (same classes) scored against its cached json
    register_yolo("my_yolo_train", data_yaml, "train", cache_dir=tmp_path / "cache")
    register_yolo("my_yolo_val", data_yaml, "val", cache_dir=tmp_path / "cache")
    eval_argv = ["--eval-only", *argv[:-1], f"train.output_dir={tmp_path / 'eval'}",
                 "dataloader.train.dataset.names=my_yolo_train",
                 "dataloader.test.dataset.names=my_yolo_val",
                 f"train.init_checkpoint={out / 'model_final.pth'}"]
    results = train_loop.main(train_loop.argument_parser().parse_args(eval_argv))
    assert "AP50" in results["bbox"]
    assert (tmp_path / "eval" / "inference" / "metrics.json").is_file()
    # a wrong class count is refused before anything is built
    with pytest.raises(ConfigError, match="model.num_classes=3 but there are 2 in dataset 'my_train'"):
        train_loop.main(train_loop.argument_parser().parse_args([*argv, "model.num_classes=3"]))

    # browse: by name (registered by the config file), a data.yaml and a json
    for source, extra in [("my_val", ["--config-file", str(config)]),
                          (data_yaml, ["--split", "val"]),
                          (str(data / "annotations" / "val.json"),
                           ["--image-root", str(data / "images" / "val")])]:
        target = tmp_path / "browse" / os.path.basename(source)
        result = browse.main([source, "--output", str(target), "--num-images", "3", *extra])
        assert len(result["samples"]) == 3
        for path in [*result["samples"], result["histograms"], result["counts"]]:
            assert os.path.getsize(path) > 0, path
        counts = json.loads(open(result["counts"]).read())
        assert {k: counts[k] for k in ("all", "per_class")} == expected_bins()
        assert counts["num_boxes"] == sum(map(len, BOXES)) and counts["num_images"] == len(BOXES)
        assert counts["ignore_regions"] == (0 if source == data_yaml else 1)
        sample = Image.open(result["samples"][0])
        assert min(sample.size) >= 512  # 64 px upscaled 8x, plus the legend strip


def test_size_counts_one_bin_per_box_crowd_apart():
    """Bin edges are the aitod preset's; a box of exactly 8 x 8 px counts once (tiny), crowd
    boxes are counted apart, any bbox_mode is read."""
    from detectron2.structures import BoxMode

    from prnet.cli.browse import size_bins, size_counts
    from prnet.evaluation.presets import PRESETS

    assert [(b.lo, b.hi) for b in size_bins()] == [(a.lo, a.hi) for a in PRESETS["aitod"].area_ranges[1:]]
    xywh, xyxy = BoxMode.XYWH_ABS, BoxMode.XYXY_ABS
    record = {"ignore_regions": [[0, 0, 5, 5]], "annotations": [
        {"bbox": [0, 0, 8, 8], "bbox_mode": xywh, "category_id": 0},
        {"bbox": [0, 0, 7.9, 8], "bbox_mode": xywh, "category_id": 1},
        {"bbox": [10, 10, 42, 42], "bbox_mode": xyxy, "category_id": 1},  # 32 x 32
        {"bbox": [0, 0, 100, 100], "bbox_mode": xywh, "category_id": 0, "iscrowd": 1},
    ]}
    counts = size_counts([record, {"annotations": []}], ["a", "b"])
    assert counts["all"] == {"verytiny": 1, "tiny": 1, "small": 0, "medium": 1}
    assert counts["per_class"]["a"] == {"verytiny": 0, "tiny": 1, "small": 0, "medium": 0}
    assert counts["per_class"]["b"] == {"verytiny": 1, "tiny": 0, "small": 0, "medium": 1}
    assert (counts["num_images"], counts["num_boxes"], counts["crowd_boxes"]) == (2, 3, 1)
    assert counts["ignore_regions"] == 1 and counts["bins"][-1]["side_px"] == [32.0, None]
