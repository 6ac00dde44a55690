"""``tools/convert_ultralytics.py`` (``prnet.cli.convert``) and ``train.init_checkpoint=<file>.pt`` on a YOLO11-n-shaped
Ultralytics file made without Ultralytics (always runs): every tensor lands where the layer map
says, a class-count change keeps the class outputs at their initialisation, and a few fine-tuning
iterations run from the converted weights. The map itself is checked against real Ultralytics
models in ``test_ultralytics_equivalence.py``."""
import os

import pytest
import torch

from prnet.checkpoint import SourceArchitecture, layer_map
from prnet import build_model
from detectron2.engine import default_argument_parser

from prnet.cli import convert
from prnet.engine import train_loop
from prnet.utils.testing import TINY_OVERRIDES, register_tiny_synthetic, repo_root

PAN = os.path.join(repo_root(), "configs", "ablations", "pan_s.py")
YOLO11_LAYERS = {0: "Conv", 1: "Conv", 2: "C3k2", 3: "Conv", 4: "C3k2", 5: "Conv", 6: "C3k2",
                 7: "Conv", 8: "C3k2", 9: "SPPF", 10: "C2PSA", 11: "Block", 12: "Concat",
                 13: "C3k2", 14: "Block", 15: "Concat", 16: "C3k2", 17: "Conv", 18: "Concat",
                 19: "C3k2", 20: "Conv", 21: "Concat", 22: "C3k2", 23: "Detect"}  # fmt: skip


def _to_ultralytics_names(model) -> dict[str, torch.Tensor]:
    """A prnet PAN model's tensors under YOLO11's names (the inverse of the layer map)."""
    source = SourceArchitecture("yolo11", "conv", "n", 23)
    prefixes = {path + ".": f"model.{i}." for i, path in layer_map(model, source)[0].items()}
    out = {}
    for key, value in model.state_dict().items():
        if key.startswith("head."):
            _, branch, level, index, rest = key.split(".", 4)
            index = int(index)
            if branch == "box_branches":
                name = f"model.23.cv2.{level}.{index}.{rest}"
            else:
                inner = "2" if index == 4 else f"{index // 2}.{index % 2}"
                name = f"model.23.cv3.{level}.{inner}.{rest}"
        else:
            prefix = next(p for p in prefixes if key.startswith(p))
            name = prefixes[prefix] + key[len(prefix):]
        out[name] = value.clone()
    out["model.23.dfl.conv.weight"] = torch.arange(16.0).view(1, 16, 1, 1)
    return out


@pytest.fixture
def yolo11n_file(tmp_path, fake_ultralytics):
    torch.manual_seed(1)
    source = build_model(PAN, overrides=["model.backbone.scale=n", "model.num_classes=80"])
    tensors = _to_ultralytics_names(source)
    path = tmp_path / "yolo11n.pt"
    fake_ultralytics(path, tensors, YOLO11_LAYERS, nc=80, stride=[8, 16, 32], scale="n", half=False)
    return path, source.state_dict()


def test_convert_tool_maps_every_tensor(yolo11n_file, tmp_path, capsys):
    path, expected = yolo11n_file
    out = tmp_path / "pan_n.pth"
    meta = convert.main([str(path), str(out)])
    assert "498 tensors loaded" in capsys.readouterr().out
    saved = torch.load(out, weights_only=True)
    assert saved["meta"]["config"].endswith("configs/ablations/pan_s.py")
    assert saved["meta"]["overrides"] == ["model.backbone.scale=n", "model.num_classes=80"]
    assert saved["meta"]["class_names"][:2] == ["class0", "class1"] and meta["source"]["kind"] == "yolo11"
    torch.testing.assert_close(saved["model"], expected, rtol=0, atol=0)
    assert saved["meta"]["conversion"]["left_at_init"] == []
    # what prediction reads: the file's class names, the model config, its test size (synthetic: 320)
    own = saved["prnet_meta"]
    assert own["class_names"] == [f"class{i}" for i in range(80)] and own["num_classes"] == 80
    assert own["image_size"] == 320 and own["model_config"]["_target_"].startswith("prnet.")
    rebuilt = build_model(None, str(out))
    torch.testing.assert_close(rebuilt.state_dict(), saved["model"], rtol=0, atol=0)


def test_other_class_count_keeps_the_class_outputs_at_init(yolo11n_file, tmp_path, capsys):
    path, expected = yolo11n_file
    out = tmp_path / "pan_n_7.pth"
    meta = convert.main([str(path), str(out), "model.num_classes=7"])
    assert "class count differs (file nc=80, model 7)" in capsys.readouterr().out
    assert tuple(meta["conversion"]["class_count"]) == (80, 7)
    # the class branches are max(C_P3, min(nc, 100)) wide: 80 for COCO, 64 for 7 classes, so
    # all but their first (depthwise) conv change shape; everything else loads
    mismatched = {m["key"] for m in meta["conversion"]["shape_mismatch"]}
    assert {f"head.cls_branches.{lvl}.4.weight" for lvl in range(3)} <= mismatched
    assert all(k.startswith("head.cls_branches.") and k.split(".")[3] != "0" for k in mismatched)
    saved = torch.load(out, weights_only=True)["model"]
    for key, value in expected.items():
        if key not in mismatched:
            torch.testing.assert_close(saved[key], value, rtol=0, atol=0)


def test_fine_tune_from_the_pt_and_from_the_converted_file(yolo11n_file, tmp_path):
    """A few iterations on the synthetic set, starting from the Ultralytics file itself
    (``train.init_checkpoint=…/yolo11n.pt``) and from its conversion: both start from its weights."""
    from detectron2.engine import HookBase

    path, expected = yolo11n_file
    converted = tmp_path / "pan_n.pth"
    convert.main([str(path), str(converted), "model.num_classes=7"])
    train_name, val_name = register_tiny_synthetic(str(tmp_path / "data"), "ultratest")
    key = "backbone.bottom_up.model.stages_1.1.cv1.conv.weight"
    for init in (path, converted):
        seen = {}

        class _FirstWeights(HookBase):
            def before_train(self):
                seen["start"] = self.trainer.model.state_dict()[key].clone()

        args = default_argument_parser().parse_args([
            "--config-file", PAN, *TINY_OVERRIDES, "train.max_iter=2", "train.eval_period=0",
            f"train.init_checkpoint={init}", f"train.output_dir={tmp_path / init.stem}",
            f"dataloader.train.dataset.names={train_name}",
            f"dataloader.test.dataset.names={val_name}", "model.num_classes=7",
        ])  # fmt: skip
        from detectron2.config import LazyConfig

        cfg = LazyConfig.apply_overrides(LazyConfig.load(args.config_file), args.opts)
        trainer = train_loop.do_train(args, cfg, extra_hooks=[_FirstWeights()])
        assert trainer.iter == 2
        torch.testing.assert_close(seen["start"], expected[key], rtol=0, atol=0)
        assert (tmp_path / init.stem / "model_final.pth").is_file()
