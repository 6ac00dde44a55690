"""The training tool survives ``SIGKILL``: kill a real ``tools/lazyconfig_train_net.py`` process
after a checkpoint was written, ``--resume`` it, and get exactly the weights and EMA of a run that
was never interrupted (atomic checkpoints + deterministic resume)."""

import os
import signal
import subprocess
import sys
import time

import torch

from prnet.utils.testing import TINY_OVERRIDES, repo_root

CONFIG = os.path.join(repo_root(), "configs", "PRNet", "prnet_n.py")
# 4 images / batch 2 = 2 iterations per epoch; 4 epochs = 8 iterations; checkpoints after
# iterations 1, 3, 5 (and final 7); one evaluation at the end only.
SCHEDULE = (
    "train.epochs=4",
    "train.warmup_epochs=1",
    "train.close_mosaic_epochs=1",
    "train.eval_period=100",
    "train.checkpointer.period=2",
    "train.checkpointer.max_to_keep=10",
    "train.ema.period=1",
    "train.ema.decay=0.5",
    "train.ema.tau=2",
    "train.log_period=1",
    "train.seed=3",
)
# The tool in a child process, on a tiny generated dataset registered before its main runs.
LAUNCHER = """
import sys
from detectron2.engine import default_argument_parser, launch
from prnet.engine.train_loop import main
from prnet.utils.testing import register_tiny_synthetic
train, val = register_tiny_synthetic(sys.argv[1], "killtest")
args = default_argument_parser().parse_args([*sys.argv[2:],
    f"dataloader.train.dataset.names={train}", f"dataloader.test.dataset.names={val}"])
launch(main, 1, args=(args,))
"""


def _start(data_root, out, resume=False):
    argv = [sys.executable, "-c", LAUNCHER, str(data_root), "--config-file", CONFIG]
    argv += ["--resume"] if resume else []
    argv += [*TINY_OVERRIDES, *SCHEDULE, f"train.output_dir={out}"]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=repo_root())
    return subprocess.Popen(argv, env=env, cwd=repo_root(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _finish(proc, timeout=120):
    _, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-4000:]


def _load(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def test_sigkill_then_resume_matches_uninterrupted(tmp_path):
    data_root, straight_out = tmp_path / "data", tmp_path / "straight"
    killed_out = tmp_path / "kill"
    # generate the images once, so that two children do not write them at the same time
    subprocess.run([sys.executable, "-c", "import sys; from prnet.utils.testing import "
                    "register_tiny_synthetic as r; from detectron2.data import DatasetCatalog as D;"
                    " [D.get(n) for n in r(sys.argv[1], 'killtest')]", str(data_root)],
                   check=True, env=dict(os.environ, PYTHONPATH=repo_root()))
    straight = _start(data_root, straight_out)
    victim = _start(data_root, killed_out)
    try:
        deadline = time.monotonic() + 90
        while not (killed_out / "model_0000001.pth").exists():
            assert victim.poll() is None, victim.stderr.read()[-4000:]
            assert time.monotonic() < deadline, "no checkpoint written in time"
            time.sleep(0.01)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
    finally:
        if victim.poll() is None:
            victim.kill()
        victim.stderr.close()
    assert victim.returncode == -signal.SIGKILL
    assert not (killed_out / "model_final.pth").exists(), "the run finished before the kill"
    # what a kill in the middle of a save leaves: a temporary file, never a half final name
    (killed_out / ".model_0000099.pth.partial.tmp").write_bytes(b"truncated")
    # a file under its final name is complete the moment it appears (written, then renamed), and
    # so is the one the pointer names (the kill may land between the two renames)
    _load(killed_out / "model_0000001.pth")
    if (killed_out / "last_checkpoint").exists():
        _load(killed_out / (killed_out / "last_checkpoint").read_text())

    resumed = _start(data_root, killed_out, resume=True)
    _finish(resumed)
    _finish(straight)

    ref, got = _load(straight_out / "model_final.pth"), _load(killed_out / "model_final.pth")
    assert got["iteration"] == ref["iteration"] == 7
    torch.testing.assert_close(got["model"], ref["model"], rtol=0, atol=0)
    torch.testing.assert_close(got["ema"]["state"], ref["ema"]["state"], rtol=0, atol=0)
    assert got["ema"]["updates"] == ref["ema"]["updates"] == 8
    torch.testing.assert_close(got["trainer"]["optimizer"]["state"],
                               ref["trainer"]["optimizer"]["state"], rtol=0, atol=0)
