"""scripts/gpu_check.sh: exits cleanly without a GPU, names missing packages, installs the offline
wheels when given, lists its steps, and its step runner records each step's outcome without
letting one failure stop the others."""
import os
import subprocess
import sys
import zipfile

import pytest

from prnet.experiments import gpu_check
from prnet.utils.testing import repo_root

SCRIPT = os.path.join(repo_root(), "scripts", "gpu_check.sh")


def _run(*args, **env):
    environ = {**os.environ, "PYTHON": sys.executable, **env}
    return subprocess.run(["bash", SCRIPT, *args], capture_output=True, text=True, env=environ,
                          timeout=120)  # fmt: skip


def test_without_a_gpu_it_exits_0_and_says_why():
    r = _run(CUDA_VISIBLE_DEVICES="")
    assert r.returncode == 0, r.stderr
    assert "nothing to check" in r.stdout


def test_missing_packages_are_named(tmp_path):
    bare = tmp_path / "python"
    bare.write_text("#!/bin/sh\necho 'torch detectron2'\n")  # a Python that finds neither
    bare.chmod(0o755)
    r = _run(PYTHON=str(bare), CUDA_VISIBLE_DEVICES="0")
    assert r.returncode == 2 and "lacks: torch detectron2" in r.stdout, r.stdout + r.stderr


def test_list_names_every_step():
    r = _run("--list")
    assert r.returncode == 0, r.stderr
    assert [line.split(":")[0] for line in r.stdout.splitlines()] == list(gpu_check.STEPS)


def test_steps_are_isolated_and_recorded(monkeypatch, tmp_path):
    def fails(work, out):
        raise RuntimeError("engine build failed")

    monkeypatch.setattr(gpu_check, "STEPS", {
        "amp_training": lambda work, out: {"last_loss": 1.0},
        "ddp": lambda work, out: {"skipped": "1 visible GPU"},
        "tensorrt_fp16": fails,
        "benchmark": lambda work, out: {"json": os.path.join(out, "b.json")},
        "slicing": lambda work, out: {"skipped": "SAHI is not installed"},
    })  # fmt: skip
    results = gpu_check.run_steps(list(gpu_check.STEPS), str(tmp_path), str(tmp_path))
    assert {k: r["status"] for k, r in results.items()} == {
        "amp_training": "passed", "ddp": "skipped", "tensorrt_fp16": "failed",
        "benchmark": "passed", "slicing": "skipped",
    }  # fmt: skip
    assert "engine build failed" in results["tensorrt_fp16"]["error"]


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA device")
def test_amp_training_step_on_gpu(tmp_path):
    assert gpu_check.step_amp_training(str(tmp_path), str(tmp_path))["last_loss"] > 0


def test_offline_wheels_go_to_a_temporary_folder(tmp_path):
    """Without network, the wheels of scripts/offline_wheels.sh are installed into a temporary
    folder put on PYTHONPATH: pip for most, an unzip for Detectron2's cp310-tagged wheel (without
    its top-level tools/ package, which would shadow the repository's, and its compiled _C)."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "timm-1.0.31-py3-none-any.whl").write_bytes(b"")
    with zipfile.ZipFile(wheels / "sal_detectron2-0.7.2-cp310-none-any.whl", "w") as z:
        for name in ("detectron2/__init__.py", "detectron2/_C.cpython-310-x86_64-linux-gnu.so",
                     "tools/train_net.py"):  # fmt: skip
            z.writestr(name, "")
    calls = tmp_path / "calls"
    fake = tmp_path / "python"  # finds detectron2 and timm only once PYTHONPATH is set
    fake.write_text(f"""#!/bin/sh
echo "$* | $PYTHONPATH" >> {calls}
case "$*" in
  -) cat > /dev/null; [ -n "$PYTHONPATH" ] || echo "detectron2 timm" ;;
  "-m zipfile"*) exec {sys.executable} "$@" ;;
  "-m prnet.experiments.gpu_check"*) echo "steps ran" ;;
esac
""")
    fake.chmod(0o755)
    r = _run(PYTHON=str(fake), CUDA_VISIBLE_DEVICES="0", PRNET_WHEELS=str(wheels), PYTHONPATH="")
    assert r.returncode == 0 and "steps ran" in r.stdout, r.stdout + r.stderr
    pip = next(line for line in calls.read_text().splitlines() if line.startswith("-m pip install"))
    assert "--no-index" in pip and "timm-1.0.31-py3-none-any.whl" in pip and "sal_detectron2" not in pip
    site = pip.split("--target ")[1].split()[0]
    assert os.path.isfile(os.path.join(site, "detectron2", "__init__.py"))
    assert not os.path.exists(os.path.join(site, "tools"))
    assert os.listdir(os.path.join(site, "detectron2")) == ["__init__.py"]
    assert calls.read_text().splitlines()[-1].endswith(f"| {site}")
