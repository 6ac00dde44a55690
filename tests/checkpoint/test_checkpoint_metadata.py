"""Self-describing checkpoints: a short training run writes ``prnet_meta`` (class names of the
training set, the model config, the test size), the model is rebuilt from the checkpoint alone,
and ``tools/predict.py --weights model.pth`` labels its boxes with the class names, no config
and no ``--dataset-meta``."""
import os

import cv2
import numpy as np
import pytest
import torch
from detectron2.engine import default_argument_parser, default_setup

from prnet import build_model
from prnet.checkpoint import read_checkpoint_metadata
from prnet.checkpoint.metadata import build_model_from_metadata
from prnet.config import load_config
from prnet.data.synthetic import SYNTHETIC_CLASSES
from prnet.engine import train_loop
from prnet.utils.testing import TINY_OVERRIDES, register_tiny_synthetic, repo_root

CONFIG = os.path.join(repo_root(), "configs", "PRNet", "prnet_n.py")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two iterations of PRNet-n on 4 synthetic 64 px images; the final checkpoint."""
    root = tmp_path_factory.mktemp("meta_train")
    train, val = register_tiny_synthetic(str(root / "data"), "metatest")
    argv = ["--config-file", CONFIG, *TINY_OVERRIDES, "train.max_iter=2", "train.eval_period=0",
            "train.checkpointer.period=100", "train.ema.enabled=False", "train.log_period=1",
            f"dataloader.train.dataset.names={train}", f"dataloader.test.dataset.names={val}",
            f"train.output_dir={root / 'out'}"]  # fmt: skip
    args = default_argument_parser().parse_args(argv)
    cfg = load_config(args.config_file, args.opts)
    default_setup(cfg, args)
    train_loop.do_train(args, cfg)
    return str(root / "out" / "model_final.pth")


def test_training_checkpoint_carries_its_classes_config_and_size(trained):
    meta = read_checkpoint_metadata(trained)
    assert meta["class_names"] == list(SYNTHETIC_CLASSES) and meta["num_classes"] == 7
    assert meta["image_size"] == 64  # dataloader.test.mapper.image_size -> the train size
    assert (meta["input_format"], meta["input_range"]) == ("RGB", [0, 255])
    assert meta["config_file"] == CONFIG and "train.max_iter=2" in meta["overrides"]
    model = build_model(None, trained)  # the checkpoint alone
    saved = torch.load(trained, weights_only=True)["model"]
    torch.testing.assert_close(model.state_dict(), saved, rtol=0, atol=0)
    assert model.prnet_meta["class_names"] == list(SYNTHETIC_CLASSES)


def test_predict_with_only_weights_draws_class_names(trained, tmp_path, monkeypatch):
    from detectron2.utils import visualizer

    from prnet.cli import predict as tool

    drawn = []
    create = visualizer._create_text_labels

    def recording(classes, scores, class_names, is_crowd=None):
        labels = create(classes, scores, class_names, is_crowd)
        drawn.extend(labels or [])
        return labels

    monkeypatch.setattr(visualizer, "_create_text_labels", recording)
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), np.random.default_rng(0).integers(0, 256, (48, 80, 3), dtype=np.uint8))
    result = tool.main(["--weights", trained, "--input", str(image), "--output", str(tmp_path / "p"),
                        "--score-thresh", "0.0", "--max-det", "5", "--vis-thresh", "0"])  # fmt: skip
    assert result["num_detections"] == 5 and len(drawn) == 5
    # "car 1%", not "2 1%": every label starts with a class name of the training set
    assert all(label.rsplit(" ", 1)[0] in SYNTHETIC_CLASSES for label in drawn), drawn


def test_stored_config_names_only_library_targets():
    meta = {"model_config": {"_target_": "os.system", "command": "echo unsafe"}}
    with pytest.raises(ValueError, match="only targets inside"):
        build_model_from_metadata(meta, where="evil.pth")


def test_checkpoint_without_metadata_asks_for_the_config(tmp_path):
    path = tmp_path / "plain.pth"
    torch.save({"model": {"w": torch.zeros(1)}}, path)
    assert read_checkpoint_metadata(path) is None
    with pytest.raises(ValueError, match="pass the config file"):
        build_model(None, str(path))


def test_export_from_weights_alone_keeps_the_class_names(trained, tmp_path):
    import json

    import onnxruntime as ort

    from prnet.cli import export as tool

    path = str(tmp_path / "trained.onnx")
    tool.main(["--weights", trained, "--format", "onnx", "--nms", "--trace-size", "64", "64",
               "--no-verify", "--output", path])  # fmt: skip
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    props = session.get_modelmeta().custom_metadata_map
    assert json.loads(props["class_names"]) == list(SYNTHETIC_CLASSES)
    assert json.loads(props["image_size"]) == 64 and json.loads(props["config"]) == "prnet_n.py"
    shapes = {o.name: o.shape for o in session.get_outputs()}
    assert shapes == {"boxes": ["batch", 500, 4], "scores": ["batch", 500],
                      "classes": ["batch", 500], "num_detections": ["batch"]}  # fmt: skip


def test_val_with_only_weights_scores_with_the_checkpoints_config(trained, tmp_path):
    """``prnet val --weights ckpt``: the config file and overrides the checkpoint names, the
    command line's overrides last; a config that is not there is a clear error."""
    from prnet.cli import val

    argv = ["--weights", trained, "train.device=cpu", f"train.output_dir={tmp_path / 'val'}"]
    args = val.config_from_checkpoint(val.get_parser().parse_args(argv))
    assert args.config_file == CONFIG and "train.max_iter=2" in args.opts
    assert args.opts[-2:] == argv[-2:]
    val.main(argv)
    assert os.path.getsize(tmp_path / "val" / "inference" / "metrics.json") > 0

    moved = torch.load(trained, weights_only=True)
    moved["prnet_meta"]["config_file"] = str(tmp_path / "gone.py")
    torch.save(moved, tmp_path / "moved.pth")
    with pytest.raises(SystemExit, match="gone.py, which is not here; pass --config-file"):
        val.main(["--weights", str(tmp_path / "moved.pth")])
