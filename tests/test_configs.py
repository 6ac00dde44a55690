"""Every config file loads; every experiment exports exactly the five Detectron2 objects,
instantiates with tiny overrides and trains one step."""

import glob
import os

import pytest
import torch
from detectron2.config import LazyConfig, instantiate
from detectron2.solver import LRMultiplier
from detectron2.utils.events import EventStorage

from prnet.data.synthetic import SYNTHETIC_CLASSES
from prnet.modeling import PRNetDetector
from prnet.utils.testing import TINY_OVERRIDES, register_tiny_synthetic, repo_root

CONFIG_DIR = os.path.join(repo_root(), "configs")
ALL = sorted(glob.glob(os.path.join(CONFIG_DIR, "**", "*.py"), recursive=True))
EXPERIMENTS = [p for p in ALL if os.sep + "common" + os.sep not in p]
EXPORTS = {"model", "dataloader", "optimizer", "lr_multiplier", "train"}


def _rel(path):
    return os.path.relpath(path, CONFIG_DIR)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return register_tiny_synthetic(str(tmp_path_factory.mktemp("tiny_synthetic")), "cfgtest")


def test_config_files_found():
    names = {_rel(p) for p in EXPERIMENTS}
    for s in "nsmlx":
        assert f"PRNet/prnet_{s}.py" in names
    for required in (
        "demo/prnet_n_synthetic.py",
        "VisDrone/prnet_s_640.py",
        "VisDrone/prnet_l_640.py",
        "AI-TOD/prnet_s_800.py",
        "AI-TOD/prnet_l_800.py",
        "UAVDT/prnet_s_640.py",
        "UAVDT/prnet_l_640.py",
        # necks, detectors, backbones and ablations
        "ablations/fpn_s.py",
        "ablations/pan_s.py",
        "ablations/pan_p2_s.py",
        "ablations/pan_p2_essamp_s.py",
        *(f"ablations/prn_layers_{k}_s.py" for k in (0, 2, 3)),
        *(f"ablations/essamp_dm{k}_s.py" for k in (1, 2, 3, 4)),
        "ablations/conv_stem_s.py",
        "ablations/essamp_neck_s.py",
        "ablations/input_size_256_s.py",
        "ablations/input_size_416_s.py",
        # the recipe's assigner overlap and gradient clipping, ablated
        "ablations/iou_assigner_s.py",
        "ablations/no_grad_clip_s.py",
        *(f"detectors/{d}_{n}_s.py" for d in ("retinanet", "fcos") for n in ("prn", "fpn")),
        *(f"backbones/{b}{stem}_prn_s.py"
          for b in ("resnet18", "convnext_atto", "cspresnet50", "mobilenetv3_large_100")
          for stem in ("", "_essamp")),
    ):
        assert required in names, required


@pytest.mark.parametrize("path", ALL, ids=_rel)
def test_config_loads(path):
    cfg = LazyConfig.load(path)
    assert len(cfg) > 0
    if path in EXPERIMENTS:
        assert set(cfg.keys()) == EXPORTS


def test_recipe_numbers_resolve():
    """The paper's recipe: lr 0.01 per 64-image step becomes 0.01 * batch on batch means, weight
    decay 5e-4 / 64; linear decay to 1 %; detection budgets of the protocols."""
    cfg = LazyConfig.load(os.path.join(CONFIG_DIR, "VisDrone/prnet_s_640.py"))
    assert instantiate(cfg.optimizer.lr) == pytest.approx(0.01 * 8)
    assert instantiate(cfg.optimizer.weight_decay) == pytest.approx(5e-4 / 64)
    cfg.dataloader.train.total_batch_size = 32
    assert instantiate(cfg.optimizer.lr) == pytest.approx(0.32)
    sched = instantiate(cfg.lr_multiplier)
    assert sched(0.0) == pytest.approx(0.001)
    assert sched(3 / 350) == pytest.approx(1 - 0.99 * 3 / 350, rel=1e-3)
    assert sched(1.0 - 1e-9) == pytest.approx(0.01, rel=1e-3)
    assert cfg.train.epochs == 350 and cfg.train.close_mosaic_epochs == 10
    # momentum 0.937 after a 0.8 ramp, bias LR from 0.1 (10 x lr0), clipping at 10 per 64 images
    assert cfg.optimizer.momentum == 0.937 and cfg.optimizer.nesterov
    assert cfg.train.warmup_momentum == 0.8 and cfg.train.warmup_bias_lr_factor == 10.0
    assert cfg.optimizer.params.overrides["bias"] == {"weight_decay": 0.0, "bias_warmup": True}
    assert cfg.train.clip_grad_norm == pytest.approx(10 / 64)
    assert (cfg.train.ema.decay, cfg.train.ema.tau) == (0.9999, 2000)
    assert cfg.dataloader.test.mapper.image_size == 640
    assert cfg.model.max_detections_per_image == 500
    assert cfg.dataloader.evaluator.preset == "visdrone"
    aitod = LazyConfig.load(os.path.join(CONFIG_DIR, "AI-TOD/prnet_l_800.py"))
    assert aitod.model.max_detections_per_image == 1500
    assert aitod.dataloader.test.mapper.image_size == 800
    assert aitod.model.backbone.scale == "l"


@pytest.mark.parametrize("path", EXPERIMENTS, ids=_rel)
def test_experiment_one_step(path, tiny_data, tmp_path):
    train_name, val_name = tiny_data
    cfg = LazyConfig.load(path)
    cfg = LazyConfig.apply_overrides(
        cfg,
        [
            *TINY_OVERRIDES,
            f"dataloader.train.dataset.names={train_name}",
            f"dataloader.test.dataset.names={val_name}",
            f"train.output_dir={tmp_path}",
        ],
    )
    # the tiny data are the synthetic set's 7 classes; UAVDT has 3
    cfg.model.num_classes = max(cfg.model.num_classes, len(SYNTHETIC_CLASSES))
    torch.manual_seed(0)
    model = instantiate(cfg.model)
    model.train()
    cfg.optimizer.params.model = model
    optimizer = instantiate(cfg.optimizer)
    loader = instantiate(cfg.dataloader.train)
    assert loader.mapper.image_size == 64
    scheduler = LRMultiplier(optimizer, instantiate(cfg.lr_multiplier), max_iter=10)
    batch = next(iter(loader))
    assert len(batch) == 2 and batch[0]["image"].shape[-2:] == (64, 64)
    with EventStorage(0):  # Detectron2's RetinaNet/FCOS log to the storage while training
        losses = model(batch)
    if isinstance(model, PRNetDetector):
        assert set(losses) == {"loss_prnet_cls", "loss_prnet_box", "loss_prnet_dfl"}
    else:  # Detectron2's own detectors (configs/detectors): their own loss names
        assert losses and all(k.startswith("loss_") for k in losses), sorted(losses)
    total = sum(losses.values())
    assert torch.isfinite(total)
    optimizer.zero_grad()
    total.backward()
    optimizer.step()
    scheduler.step()
    # the test side instantiates too (no inference here; tests/test_train_e2e.py runs it)
    assert cfg.dataloader.test.mapper.image_size == 64
    instantiate(cfg.dataloader.test)
    evaluator = instantiate(cfg.dataloader.evaluator)
    assert evaluator._output_dir.startswith(str(tmp_path))
