"""End to end through ``prnet.engine.train_loop`` (``tools/lazyconfig_train_net.py``): train a few iterations on a tiny
generated dataset, evaluate, checkpoint (periodic, final, best), resume exactly, evaluate only."""

import json
import os

import pytest
import torch
from detectron2.engine import HookBase, default_argument_parser
from detectron2.utils.env import seed_all_rng

from prnet.engine import train_loop
from prnet.utils.testing import TINY_OVERRIDES, register_tiny_synthetic, repo_root

CONFIG = os.path.join(repo_root(), "configs", "PRNet", "prnet_n.py")
# 4 images / batch 2 = 2 iterations per epoch; 2 epochs = 4 iterations, warm-up 1 epoch, mosaic
# off for the last iteration, evaluation and checkpoints every 2 iterations, EMA every step.
SCHEDULE = (
    "train.epochs=2",
    "train.warmup_epochs=1",
    "train.close_mosaic_epochs=0.5",
    "train.eval_period=2",
    "train.checkpointer.period=2",
    "train.checkpointer.max_to_keep=10",
    "train.ema.period=1",
    "train.ema.decay=0.5",
    "train.ema.tau=2",
    "train.log_period=1",
    "train.seed=3",
)


class _Interrupt(Exception):
    pass


class _StopAfter(HookBase):
    """Simulates a crash after iteration ``last`` (after its checkpoint was written)."""

    def __init__(self, last):
        self.last = last

    def after_step(self):
        if self.trainer.iter == self.last:
            raise _Interrupt


@pytest.fixture(scope="module")
def tool():
    return train_loop


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return register_tiny_synthetic(str(tmp_path_factory.mktemp("tiny_synthetic")), "e2etest")


def _args(tool, data, output_dir, *extra, resume=False, eval_only=False):
    train_name, val_name = data
    argv = ["--config-file", CONFIG]
    argv += ["--resume"] if resume else []
    argv += ["--eval-only"] if eval_only else []
    argv += [
        *TINY_OVERRIDES,
        *SCHEDULE,
        f"dataloader.train.dataset.names={train_name}",
        f"dataloader.test.dataset.names={val_name}",
        f"train.output_dir={output_dir}",
        *extra,
    ]
    return default_argument_parser().parse_args(argv)


def _train(tool, args, extra_hooks=()):
    """``main`` for training, with extra hooks: load, override, set up (seeds), ``do_train``."""
    from detectron2.config import LazyConfig
    from detectron2.engine import default_setup

    cfg = LazyConfig.apply_overrides(LazyConfig.load(args.config_file), args.opts)
    default_setup(cfg, args)
    return tool.do_train(args, cfg, extra_hooks=extra_hooks)


@pytest.fixture(scope="module")
def straight(tool, data, tmp_path_factory):
    out = tmp_path_factory.mktemp("straight")
    trainer = _train(tool, _args(tool, data, out))
    return out, trainer


def _load(path):
    return torch.load(path, map_location="cpu", weights_only=False)


def test_outputs(straight):
    out, trainer = straight
    assert trainer.iter == 4  # Detectron2: max_iter after training
    for name in ("model_0000001.pth", "model_final.pth", "model_best.pth", "last_checkpoint",
                 "config.yaml", "log.txt"):
        assert (out / name).is_file(), name
    assert any(p.name.startswith("events.out.tfevents") for p in out.iterdir())
    # detectron2 JSONWriter: one json object per logged iteration, eval metrics included
    rows = [json.loads(line) for line in (out / "metrics.json").read_text().splitlines()]
    assert [r["iteration"] for r in rows if "total_loss" in r] == [0, 1, 2, 3]
    assert any("bbox/AP50" in r for r in rows)
    # both the EMA (bbox/...) and the raw weights (bbox_raw/...) are scored at every evaluation
    evals = [r for r in rows if "bbox/AP50" in r]
    assert evals and all("bbox_raw/AP50" in r for r in evals)
    assert (out / "inference" / "raw" / "metrics.json").is_file()
    assert all(r["lr"] > 0 for r in rows if "lr" in r)
    # AerialEvaluator report of the last evaluation (synthetic preset: AI-TOD bins + ignore)
    report = json.loads((out / "inference" / "metrics.json").read_text())
    assert report["preset"] == "synthetic"
    for key in ("AP", "AP50", "APvt", "APt"):
        assert key in report["metrics"]
    final = _load(out / "model_final.pth")
    assert {"model", "ema", "trainer", "iteration"} <= set(final)
    assert final["iteration"] == 3 and final["ema"]["updates"] == 4
    best = _load(out / "model_best.pth")
    assert {"model", "ema"} <= set(best)
    # EMA differs from the raw weights after training
    key = next(k for k, v in final["model"].items() if v.is_floating_point() and v.ndim == 4)
    assert not torch.equal(final["model"][key], final["ema"]["state"][key])
    # mosaic was switched off for the last iteration
    assert not trainer.data_loader.mapper.mosaic_enabled


def test_resume_matches_straight_run(tool, data, straight, tmp_path):
    """2 iterations, crash, resume to 4 == 4 straight: weights, EMA, optimizer, LR, data order."""
    out_straight, _ = straight
    with pytest.raises(_Interrupt):
        _train(tool, _args(tool, data, tmp_path), extra_hooks=[_StopAfter(1)])
    assert (tmp_path / "model_0000001.pth").is_file()
    assert not (tmp_path / "model_final.pth").exists()
    seed_all_rng(12345)  # the resumed run must not depend on the process' RNG state
    trainer = _train(tool, _args(tool, data, tmp_path, resume=True))
    assert trainer.start_iter == 2 and trainer.iter == 4
    ref, got = _load(out_straight / "model_final.pth"), _load(tmp_path / "model_final.pth")
    torch.testing.assert_close(got["model"], ref["model"])
    torch.testing.assert_close(got["ema"]["state"], ref["ema"]["state"])
    assert got["ema"]["updates"] == ref["ema"]["updates"]
    ref_opt, got_opt = ref["trainer"]["optimizer"], got["trainer"]["optimizer"]
    torch.testing.assert_close(got_opt["state"], ref_opt["state"])
    assert [g["lr"] for g in got_opt["param_groups"]] == pytest.approx(
        [g["lr"] for g in ref_opt["param_groups"]]
    )


def test_best_checkpoint_by_raw_weights_holds_no_ema(tool, data, tmp_path):
    """``val_metric="bbox_raw/AP50"`` picks model_best.pth by the raw weights and leaves the EMA
    out of it, so loaders (which prefer EMA weights) use the weights that earned the score."""
    _train(tool, _args(tool, data, tmp_path, "train.best_checkpointer.val_metric=bbox_raw/AP50",
                       "train.max_iter=2", "train.eval_period=1"))  # fmt: skip
    best, final = _load(tmp_path / "model_best.pth"), _load(tmp_path / "model_final.pth")
    assert "model" in best and "ema" not in best
    assert "ema" in final


def test_eval_only_uses_ema(tool, data, straight):
    out, _ = straight
    args = _args(tool, data, out / "eval", "train.init_checkpoint=" + str(out / "model_best.pth"),
                 eval_only=True)
    results = tool.main(args)
    assert "bbox" in results and "AP50" in results["bbox"]
    assert (out / "eval" / "inference" / "metrics.json").is_file()
