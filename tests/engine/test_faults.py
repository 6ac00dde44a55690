"""Faults around training, evaluation and checkpoints end in a clear error naming what to do, or in
a safe fallback that says so (docs/bad_data.md, "Training, evaluation and checkpoints")."""

import errno
import json
import logging
import os
import types

import pytest
import torch
from detectron2.config import LazyConfig
from detectron2.engine import default_argument_parser
from torch import nn

from prnet.checkpoint import CheckpointReadError, load_weights
from prnet.cli import convert, errors
from prnet.cli import export as export_cli
from prnet.config import ConfigError, load_config
from prnet.engine import (
    BestCheckpointer,
    CheckpointMismatchError,
    ModelEMA,
    PeriodicCheckpointer,
    PRNetCheckpointer,
    resolve_device,
    train_loop,
)
from prnet.modeling import PRN, TimmBackbone
from prnet.utils.testing import TINY_OVERRIDES, register_tiny_synthetic, repo_root

CONFIG = os.path.join(repo_root(), "configs", "PRNet", "prnet_n.py")


def _net(width=4):
    return nn.Sequential(nn.Conv2d(3, width, 3), nn.BatchNorm2d(width), nn.Conv2d(width, 2, 1))


def _saved(tmp_path, *iterations, model=None):
    model = model or _net()
    ckpt = PRNetCheckpointer(model, str(tmp_path))
    for it in iterations:
        ckpt.save(f"model_{it:07d}", iteration=it)
    return ckpt


# --- the config -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "override, message",
    [
        ("train.max_iter=abc", "train.max_iter='abc': expected an integer >= 1 or null"),
        ("model.num_classes=0", "model.num_classes=0: expected an integer >= 1"),
        ("model.backbone.num_prn_layers=7", "num_prn_layers=7: expected an integer in [0, 3]"),
        ("dataloader.train.total_batch_size=-2", "total_batch_size=-2: expected an integer >= 1"),
        ("train.ema.decay=1.5", "train.ema.decay=1.5: expected a number in [0, 1] or 'auto'"),
    ],
)
def test_bad_values_fail_when_the_config_loads(override, message):
    with pytest.raises(ConfigError) as err:
        load_config(CONFIG, [override])
    assert message in str(err.value)


def test_missing_config_file_and_absent_gpu():
    with pytest.raises(ConfigError, match="config file .*nope.py' does not exist"):
        load_config("configs/nope.py")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match=r"train.device='cuda'.* 0 CUDA device.*train.device=cpu"):
            resolve_device("cuda")
    with pytest.raises(ConfigError, match="is not a device"):
        resolve_device("gpu0")


def test_prn_layer_count_and_class_count_are_checked_by_the_modules_too():
    with pytest.raises(ValueError, match="num_prn_layers must be in 0..3"):
        PRN(TimmBackbone("prnet_csp_n"), scale="n", num_prn_layers=7)


def test_unwritable_output_dir(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    args = default_argument_parser().parse_args(
        ["--config-file", CONFIG, f"train.output_dir={blocker / 'out'}"]
    )
    with pytest.raises(OSError, match=r"train.output_dir=.*a_file/out' cannot be created"):
        train_loop.main(args)


# --- saving -----------------------------------------------------------------------------------
def test_disk_full_while_saving_names_the_file_and_the_last_good_checkpoint(tmp_path, monkeypatch):
    ckpt = _saved(tmp_path, 1)

    def full(*_, **__):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(OSError, match=r"model_0000002.pth: No space left on device.*"
                                      r"model_0000001.pth.*--resume") as err:  # fmt: skip
        ckpt.save("model_0000002", iteration=2)
    assert err.value.errno == errno.ENOSPC
    assert sorted(os.listdir(tmp_path)) == ["last_checkpoint", "model_0000001.pth"]


def test_stale_temporary_files_are_removed_at_the_next_start(tmp_path):
    _saved(tmp_path, 1)
    (tmp_path / ".model_0000002.pth.abc123.tmp").write_bytes(b"half")
    (tmp_path / ".last_checkpoint.x.tmp").write_bytes(b"m")
    PRNetCheckpointer(_net(), str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["last_checkpoint", "model_0000001.pth"]


# --- resuming ---------------------------------------------------------------------------------
@pytest.mark.parametrize("pointer", ["truncated", "empty", "garbage", "missing"])
def test_resume_falls_back_to_the_newest_complete_checkpoint(tmp_path, pointer):
    _saved(tmp_path, 1, 3)
    newest = tmp_path / "model_0000003.pth"
    if pointer == "truncated":
        newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
        expected = "model_0000001.pth"
    else:
        expected = "model_0000003.pth"
        target = tmp_path / "last_checkpoint"
        if pointer == "missing":
            target.unlink()
        else:
            target.write_bytes(b"" if pointer == "empty" else bytes(range(256)))
    ckpt = PRNetCheckpointer(_net(), str(tmp_path))
    seen = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: seen.append(record.getMessage())
    ckpt.logger.addHandler(handler)
    try:
        assert ckpt.get_checkpoint_file() == str(tmp_path / expected)
    finally:
        ckpt.logger.removeHandler(handler)
    assert any("newest complete checkpoint" in m for m in seen), seen
    assert ckpt.resume_or_load("", resume=True)["iteration"] == int(expected[6:13])


def test_resume_with_another_model_stops_before_loading_state(tmp_path):
    _saved(tmp_path, 1, model=_net(4))
    ckpt = PRNetCheckpointer(_net(6), str(tmp_path))
    with pytest.raises(CheckpointMismatchError, match=r"(?s)--resume: .*another model.*shape mismatch"):
        ckpt.resume_or_load("", resume=True)
    # starting a new run from those weights (no --resume) stays allowed, with the report
    PRNetCheckpointer(_net(6), str(tmp_path / "new")).resume_or_load(
        str(tmp_path / "model_0000001.pth"), resume=False
    )


class _Trainer(types.SimpleNamespace):
    pass


def test_max_to_keep_holds_across_resumes(tmp_path):
    ckpt = _saved(tmp_path, 0, 1, 2, 3)
    hook = PeriodicCheckpointer(ckpt, period=1, max_iter=10, max_to_keep=2)
    hook.trainer = _Trainer(start_iter=4, max_iter=10, iter=4)
    hook.before_train()
    hook.step(4)
    assert sorted(n for n in os.listdir(tmp_path) if n.startswith("model_")) == [
        "model_0000003.pth", "model_0000004.pth"]  # fmt: skip


def test_metrics_are_not_logged_twice_after_a_resume(tmp_path):
    path = tmp_path / "metrics.json"
    rows = [{"iteration": i, "total_loss": 1.0} for i in range(6)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"iteration": 6, "to')
    assert train_loop.trim_metrics(str(path), start_iter=4) == 3  # 4, 5 and the cut line
    assert [json.loads(line)["iteration"] for line in path.read_text().splitlines()] == [0, 1, 2, 3]


def test_best_score_survives_a_resume_and_the_pointer_never_names_the_best(tmp_path):
    ckpt = _saved(tmp_path, 1)
    best_ckpt = PRNetCheckpointer(_net(), str(tmp_path))
    best_ckpt.tags_last_checkpoint = False
    hook = BestCheckpointer(2, best_ckpt, "bbox/AP50", mode="max")
    hook._update_best(41.5, 1)
    best_ckpt.save("model_best", iteration=1)
    assert (tmp_path / "last_checkpoint").read_text() == "model_0000001.pth"
    resumed = BestCheckpointer(2, best_ckpt, "bbox/AP50", mode="max")
    resumed.trainer = _Trainer(start_iter=2)
    resumed.before_train()
    assert (resumed.best_metric, resumed.best_iter) == (41.5, 1)
    assert ckpt.get_checkpoint_file().endswith("model_0000001.pth")


# --- the EMA and evaluation-only ----------------------------------------------------------------
def test_an_ema_without_updates_is_never_used(tmp_path):
    model = _net()
    ema = ModelEMA(model)
    ema.reset()  # what training does before its first update
    with torch.no_grad():
        model[0].weight.add_(1.0)
    trained = model[0].weight.clone()
    assert not ema.has_average
    with ema.applied(model):
        torch.testing.assert_close(model[0].weight, trained)
    PRNetCheckpointer(model, str(tmp_path), ema=ema).save("model_final")
    target = _net()
    assert load_weights(target, str(tmp_path / "model_final.pth")) == "model"
    torch.testing.assert_close(target[0].weight, trained)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return register_tiny_synthetic(str(tmp_path_factory.mktemp("faults")), "faulttest")


def _eval_args(tiny, out, *extra, flags=()):
    train, val = tiny
    return train_loop.argument_parser().parse_args([
        "--config-file", CONFIG, "--eval-only", *flags, *TINY_OVERRIDES, f"train.output_dir={out}",
        f"dataloader.train.dataset.names={train}", f"dataloader.test.dataset.names={val}",
        "model.num_classes=7", *extra,
    ])  # fmt: skip


def test_eval_only_refuses_no_weights_and_mismatched_weights(tiny, tmp_path):
    with pytest.raises(ValueError, match="--eval-only needs the weights.*train.init_checkpoint"):
        train_loop.main(_eval_args(tiny, tmp_path / "a"))
    cfg = LazyConfig.load(CONFIG)
    cfg.model.backbone.scale, cfg.model.num_classes = "n", 7
    cfg.model.backbone.num_prn_layers = 2  # another architecture
    from detectron2.config import instantiate

    other = instantiate(cfg.model)
    for ema_enabled in ("True", "False"):
        PRNetCheckpointer(other, str(tmp_path / "other"), ema=ModelEMA(other)).save("model_final")
        weights = f"train.init_checkpoint={tmp_path / 'other' / 'model_final.pth'}"
        args = _eval_args(tiny, tmp_path / "b", weights, f"train.ema.enabled={ema_enabled}")
        with pytest.raises(CheckpointMismatchError, match="does not fit|do not fit"):
            train_loop.main(args)
    for ema_enabled in ("True", "False"):  # scored anyway, raw weights (its EMA cannot fit)
        args = _eval_args(tiny, tmp_path / "c", weights, f"train.ema.enabled={ema_enabled}",
                          flags=["--allow-mismatch"])  # fmt: skip
        assert set(train_loop.main(args)) == {"bbox"}


def test_weights_that_are_missing_or_truncated_are_named(tmp_path, capsys):
    _saved(tmp_path, 1)
    with pytest.raises(FileNotFoundError, match="weights file .*nope.pth does not exist"):
        load_weights(_net(), str(tmp_path / "nope.pth"))
    path = tmp_path / "model_0000001.pth"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointReadError, match=r"model_0000001.pth: not a complete checkpoint"):
        load_weights(_net(), str(path))
    # the export tool ends with that message and exit status 1, not a traceback
    with pytest.raises(SystemExit) as exit_:
        export_cli.main(["--config-file", CONFIG, "--weights", str(path), "--output",
                         str(tmp_path / "m.onnx"), "model.num_classes=7"])  # fmt: skip
    assert "error:" in str(exit_.value.code) and "not a complete checkpoint" in str(exit_.value.code)


def test_user_errors_exit_with_the_message(monkeypatch):
    @errors.exits_on_user_error
    def main():
        raise ConfigError(["train.max_iter='abc': expected an integer"])

    with pytest.raises(SystemExit, match="error: invalid config"):
        main()
    monkeypatch.setenv("PRNET_TRACEBACK", "1")
    with pytest.raises(ConfigError):
        main()
    assert convert.main.__wrapped__  # every command line is wrapped the same way
