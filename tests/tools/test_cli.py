"""The ``prnet`` command (``prnet.cli.main``, ``python -m prnet``): every command listed and with
prnet's own help, no torch or Detectron2 imported before the arguments are parsed, dispatch to
the command modules, and ``log.txt`` without terminal colours."""
import json
import logging
import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest

from prnet.cli import main as cli
from prnet.utils.testing import repo_root

CONFIG = os.path.join(repo_root(), "configs", "PRNet", "prnet_n.py")
HEAVY = ("torch", "detectron2", "timm", "cv2")


def _run(*args, check=True):
    env = dict(os.environ, PYTHONPATH=repo_root())
    proc = subprocess.run([sys.executable, *args], cwd=repo_root(), env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_help_lists_every_command():
    proc = _run("-m", "prnet", "--help")
    table = proc.stdout.split("commands:")[1]
    for name, command in cli.COMMANDS.items():
        assert re.search(rf"^  {name} +{re.escape(command.summary)}$", table, re.M), name
    assert {"train", "val", "predict", "export", "benchmark", "analyze", "browse", "slice",
            "convert"} == set(cli.COMMANDS)  # fmt: skip
    assert proc.stderr == ""  # no warnings


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_each_command_has_prnets_help(name):
    proc = _run("-m", "prnet", name, "--help")
    assert proc.stdout.startswith(f"usage: prnet {name} "), proc.stdout[:200]
    assert proc.stderr == ""  # no warnings
    tool = cli.COMMANDS[name].tool
    if tool:  # the examples name the command, not the script
        assert f"prnet {name} " in proc.stdout and f"python {tool}" not in proc.stdout
    assert "MODEL.WEIGHTS" not in proc.stdout  # Detectron2's yacs examples


def test_training_script_shows_prnets_help():
    proc = _run("tools/lazyconfig_train_net.py", "--help")
    assert "usage: tools/lazyconfig_train_net.py" in proc.stdout
    assert "--weights FILE" in proc.stdout and "configs/VisDrone/prnet_s_640.py" in proc.stdout
    assert "MODEL.WEIGHTS" not in proc.stdout and "Yacs" not in proc.stdout


def test_nothing_heavy_is_imported_for_help():
    modules = ["prnet", "prnet.cli.main"] + [c.module for c in cli.COMMANDS.values()]
    code = (
        "import sys, importlib\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m).__dict__.get('get_parser', lambda: None)()\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    assert _run("-c", code).stdout.strip() == "[]"


def test_usage_errors_name_the_command():
    proc = _run("-m", "prnet", "val", "--config-file", CONFIG, check=False)
    assert proc.returncode == 2
    assert "usage: prnet val" in proc.stderr and "--weights" in proc.stderr
    proc = _run("-m", "prnet", "nosuchcommand", check=False)
    assert proc.returncode == 2 and "invalid choice: 'nosuchcommand'" in proc.stderr


def test_user_errors_end_with_the_message(tmp_path):
    with pytest.raises(SystemExit) as exit_:  # exit status 1, the message on stderr
        cli.main(["analyze", "--config-file", str(tmp_path / "nope.py")])
    assert re.match(r"error: invalid config.*nope.py' does not exist", exit_.value.code, re.S)


def test_a_user_error_in_a_training_process_ends_with_its_message(tmp_path):
    """--num-gpus 2 on CPU: missing data stops each process with the message a single-process run
    gives, and the launcher says which process stopped: no traceback wrapped by torch's spawn."""
    env = dict(os.environ, PYTHONPATH=repo_root(), DETECTRON2_DATASETS=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, "tools/lazyconfig_train_net.py", "--num-gpus", "2", "--config-file",
         os.path.join(repo_root(), "configs", "VisDrone", "prnet_s_640.py"), "train.device=cpu"],
        cwd=repo_root(), env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "ProcessRaisedException" not in proc.stderr
    assert re.search(r"error: dataset 'visdrone2019_train': .*visdrone2019_train.json not found",
                     proc.stderr)  # fmt: skip
    assert "error: training process" in proc.stderr.splitlines()[-1]


def test_predict_dispatch_end_to_end(tmp_path):
    image = tmp_path / "frame.jpg"
    cv2.imwrite(str(image), np.random.default_rng(0).integers(0, 255, (72, 96, 3), np.uint8))
    out = tmp_path / "out"
    status = cli.main(["predict", "--config-file", CONFIG, "--input", str(image), "--output",
                       str(out), "--image-size", "64", "--no-vis"])  # fmt: skip
    assert status == 0
    images = json.loads((out / "images.json").read_text())
    assert [(i["id"], i["name"], i["height"], i["width"]) for i in images] == [(1, "frame", 72, 96)]
    assert isinstance(json.loads((out / "results.json").read_text()), list)


def test_console_script_points_to_the_entry_point():
    with open(os.path.join(repo_root(), "setup.py"), encoding="utf-8") as f:
        (target,) = re.findall(r'"prnet\s*=\s*([\w.]+:\w+)"', f.read())
    module, function = target.split(":")
    assert module == "prnet.cli.main" and getattr(cli, function) is cli.main


def test_export_formats_listed_without_torch_match_the_exporter():
    from prnet.cli import export as export_cli
    from prnet.export import EXPORT_FORMATS

    assert export_cli.EXPORT_FORMATS == EXPORT_FORMATS


def test_log_txt_has_no_colour_codes(tmp_path):
    from detectron2.config import LazyConfig
    from detectron2.engine import default_setup

    from prnet.cli.train import get_parser
    from prnet.engine.train_loop import setup_plain_log_files

    out = str(tmp_path)
    cfg = LazyConfig.load(CONFIG)
    cfg.train.output_dir = out
    setup_plain_log_files(out, 0)
    default_setup(cfg, get_parser().parse_args(["--config-file", CONFIG]))  # config highlighted
    coloured = "\x1b[31mSome model parameters or buffers are not found\x1b[0m"
    logging.getLogger("fvcore.common.checkpoint").warning(coloured)  # as the checkpointer does
    logging.getLogger("prnet").info("\x1b[1;32mbold green\x1b[0m")
    for name in ("fvcore", "detectron2", "prnet"):
        for handler in logging.getLogger(name).handlers:
            # this test's log.txt only: console handlers of earlier tests may hold closed streams
            if str(getattr(getattr(handler, "stream", None), "name", "")).startswith(out):
                handler.flush()
    text = (tmp_path / "log.txt").read_text()
    assert "Some model parameters or buffers are not found" in text and "bold green" in text
    assert "Contents of args.config_file" in text and "model.num_classes = 7" in text
    assert "\x1b" not in text


def test_train_and_val_reach_the_training_loop(monkeypatch):
    from prnet.engine import train_loop

    seen = []
    monkeypatch.setattr(train_loop, "main", seen.append)
    cli.main(["train", "--config-file", CONFIG, "--weights", "w.pth", "--resume", "train.max_iter=3"])
    cli.main(["val", "--config-file", CONFIG, "--weights", "w.pth", "train.device=cpu"])
    train, val = seen
    assert (train.weights, train.resume, train.eval_only, train.opts) == (
        "w.pth", True, False, ["train.max_iter=3"])  # fmt: skip
    assert (val.weights, val.resume, val.eval_only, val.opts) == (
        "w.pth", False, True, ["train.device=cpu"])  # fmt: skip
    assert train.num_gpus == val.num_gpus == 1 and train.dist_url.startswith("tcp://127.0.0.1:")


def test_val_end_to_end(tmp_path):
    """``prnet val --weights`` scores a checkpoint on a tiny set; its log.txt is plain text."""
    import torch

    from prnet.modeling.build import build_model
    from prnet.utils.testing import TINY_OVERRIDES, register_tiny_synthetic

    _, val = register_tiny_synthetic(str(tmp_path / "data"), "clitest", num_train=1, num_val=1)
    overrides = [*TINY_OVERRIDES, f"dataloader.test.dataset.names={val}"]
    weights = tmp_path / "init.pth"
    torch.save({"model": build_model(CONFIG, overrides=overrides).state_dict()}, weights)
    out = tmp_path / "val"
    assert cli.main(["val", "--config-file", CONFIG, "--weights", str(weights),
                     *overrides, f"train.output_dir={out}"]) == 0  # fmt: skip
    log = (out / "log.txt").read_text()
    assert "Evaluation of the model weights" in log and f"Loading from {weights}" in log
    assert "\x1b" not in log


def test_a_dependencys_notice_is_dropped_by_its_text_only():
    from prnet.utils.log_files import DropMessages

    drop = DropMessages("No CUDA runtime is found")

    def record(msg, *args):
        return logging.LogRecord("torch.utils.cpp_extension", logging.WARNING, "f", 1, msg, args, None)

    assert not drop.filter(record("No CUDA runtime is found, using CUDA_HOME=%r", "/usr/local"))
    assert drop.filter(record("Error building extension %r", "x"))
