"""``tools/ablate.py``: two configs under one tiny budget give a table; reruns reuse finished rows."""

import json
import os

import pytest

from prnet.utils.testing import load_tool, register_tiny_synthetic, repo_root


@pytest.fixture(scope="module")
def ablate(tmp_path_factory):
    root = tmp_path_factory.mktemp("ablate")
    train, val = register_tiny_synthetic(str(root / "data"), "ablatetest", image_size=64)
    mp = pytest.MonkeyPatch()
    mp.syspath_prepend(os.path.join(repo_root(), "tools"))  # as when run as a script
    tool = load_tool("ablate")
    out = root / "out"
    configs = [os.path.join(repo_root(), "configs", c)
               for c in ("PRNet/prnet_s.py", "ablations/pan_p2_s.py")]
    argv = [
        "--configs", *configs,
        "--train-dataset", train, "--test-dataset", val,
        "--epochs", "1", "--warmup-epochs", "0", "--batch", "2", "--train-size", "64", "--test-size", "64",
        "--optimizer", "adamw", "--workers", "0", "--latency-iters", "2",
        "--output-dir", str(out), "--title", "Tiny",
        "model.backbone.scale=n", "train.progress_bar=False",
    ]
    report = tool.main(argv)
    yield tool, argv, out, report
    mp.undo()


def test_table_rows(ablate):
    _, _, out, report = ablate
    rows = report["rows"]
    assert [r["name"] for r in rows] == ["PRNet/prnet_s", "ablations/pan_p2_s"]
    for r in rows:
        assert r["iterations"] == 2  # 1 epoch of 4 images at batch 2
        assert r["test_size"] == 64 and r["latency_ms"] > 0
        assert set(r["metrics"]) == {"AP", "AP50", "APvt", "APt", "APs"}
        assert all(v is None or 0.0 <= v <= 100.0 for v in r["metrics"].values())
    # PAN+P2 over the conv stem is a different network: other size and cost
    assert rows[0]["params"] != rows[1]["params"] and rows[0]["gflops"] != rows[1]["gflops"]
    assert json.loads((out / "ablation.json").read_text())["rows"] == rows
    md = (out / "ablation.md").read_text()
    assert md.startswith("# Tiny") and "python tools/ablate.py --configs" in md
    assert md.count("\n| `") == 2 and "ablations/pan_p2_s" in md


def test_rerun_reuses_results(ablate, monkeypatch):
    tool, argv, _, report = ablate

    def no_training(*_, **__):
        raise AssertionError("a finished row was trained again")

    monkeypatch.setattr(tool, "do_train", no_training)
    assert tool.main(argv)["rows"] == report["rows"]


def test_other_budget_refuses_stale_results(ablate, monkeypatch):
    tool, argv, _, _ = ablate
    monkeypatch.setattr(tool, "do_train", lambda *_: pytest.fail("must stop before training"))
    with pytest.raises(SystemExit, match="another budget"):
        tool.main([a if a != "adamw" else "config" for a in argv])


def test_bad_override_fails_before_training(ablate, monkeypatch):
    tool, argv, _, _ = ablate
    monkeypatch.setattr(tool, "do_train", lambda *_: pytest.fail("must stop before training"))
    with pytest.raises(Exception, match="max_iters"):
        tool.main([*argv, "train.max_iters=3"])


def test_bad_schedule_fails_before_training(ablate, monkeypatch):
    tool, argv, _, _ = ablate
    monkeypatch.setattr(tool, "do_train", lambda *_: pytest.fail("must stop before training"))
    with pytest.raises(ValueError, match="warmup_epochs"):
        tool.main([*argv, "--warmup-epochs", "2"])


def test_latency_only_remeasures_from_checkpoints(ablate, monkeypatch):
    tool, argv, out, report = ablate
    monkeypatch.setattr(tool, "do_train", lambda *_: pytest.fail("--latency-only must not train"))
    calls = []
    monkeypatch.setattr(tool, "measure_latency", lambda cfg, model, iters: calls.append(model) or 1.5)
    rows = tool.main([*argv, "--latency-only"])["rows"]
    assert len(calls) == 2 and [r["latency_ms"] for r in rows] == [1.5, 1.5]
    # everything but the latency is the first run's, read back from the row's result file
    strip = lambda r: {k: v for k, v in r.items() if not k.startswith("latency")}  # noqa: E731
    assert [strip(r) for r in rows] == [strip(r) for r in report["rows"]]
    md = (out / "ablation.md").read_text()
    assert "`--latency-only`" in md and "--latency-only" not in md.split("```")[1]  # command
    # the model really carries the trained weights of model_final.pth
    import torch
    final = torch.load(out / "PRNet__prnet_s" / "model_final.pth", weights_only=True)["model"]
    name, value = next((k, v) for k, v in final.items() if v.dtype.is_floating_point)
    torch.testing.assert_close(calls[0].state_dict()[name], value)
