"""``tools/ablate.py``: two configs under one tiny budget give a table; reruns reuse finished rows."""

import json
import os

import pytest

from prnet.experiments import ablation
from prnet.experiments.ablation_report import spread
from prnet.utils.testing import register_tiny_synthetic, repo_root


@pytest.fixture(scope="module")
def ablate(tmp_path_factory):
    root = tmp_path_factory.mktemp("ablate")
    train, val = register_tiny_synthetic(str(root / "data"), "ablatetest", image_size=64)
    tool = ablation
    out = root / "out"
    configs = [os.path.join(repo_root(), "configs", c)
               for c in ("PRNet/prnet_s.py", "ablations/pan_p2_s.py")]
    argv = [
        "--configs", *configs,
        "--train-dataset", train, "--test-dataset", val,
        "--epochs", "1", "--warmup-epochs", "0", "--batch", "2", "--train-size", "64", "--test-size", "64",
        "--optimizer", "adamw", "--workers", "0", "--latency-iters", "2",
        "--seeds", "0", "1", "--head-channels", "64", "32",
        "--output-dir", str(out), "--title", "Tiny",
        "model.backbone.scale=n", "train.progress_bar=False",
    ]
    report = tool.main(argv)
    yield tool, argv, out, report


def test_table_rows(ablate):
    _, _, out, report = ablate
    rows = report["rows"]
    assert [r["name"] for r in rows] == ["PRNet/prnet_s", "ablations/pan_p2_s"]
    for r in rows:
        assert r["iterations"] == 2  # 1 epoch of 4 images at batch 2
        assert r["test_size"] == 64 and r["latency_ms"] > 0
        assert r["seeds"] == [0, 1] and [run["seed"] for run in r["runs"]] == [0, 1]
        for metrics in (r["metrics"], r["metrics_raw"]):  # EMA and raw weights, over the seeds
            assert set(metrics) == {"AP", "AP50", "APvt", "APt", "APs"}
            for over_seeds in metrics.values():
                assert len(over_seeds["values"]) == 2
                assert all(v is None or 0.0 <= v <= 100.0 for v in over_seeds["values"])
        # the same head widths for both necks; parts add up to the whole model
        assert set(r["parts"]) == {"backbone", "neck", "head"}
        assert sum(p["params"] for p in r["parts"].values()) == r["params"]
        assert sum(p["gflops"] for p in r["parts"].values()) == pytest.approx(r["gflops"], abs=0.01)
    # the seeds are different runs: other initial weights and data order, so other final weights
    import torch

    final = [torch.load(out / f"PRNet__prnet_s__seed{s}" / "model_final.pth", weights_only=True)
             for s in (0, 1)]  # fmt: skip
    name = next(k for k, v in final[0]["model"].items() if v.dtype.is_floating_point)
    assert not torch.equal(final[0]["model"][name], final[1]["model"][name])
    # PAN+P2 over the conv stem is a different network: other size and cost
    assert rows[0]["params"] != rows[1]["params"] and rows[0]["gflops"] != rows[1]["gflops"]
    assert json.loads((out / "ablation.json").read_text())["rows"] == rows
    md = (out / "ablation.md").read_text()
    assert md.startswith("# Tiny") and "python tools/ablate.py --configs" in md
    assert md.count("\n| `") == 2 and "ablations/pan_p2_s" in md
    assert "64 / 32 (box / class) for every row" in md and "seeds 0, 1" in md


def test_head_channels_are_the_same_for_every_neck(ablate):
    tool, argv, out, _ = ablate
    from detectron2.config import instantiate

    args = tool.parse_args(argv)
    widths = set()
    for path in args.configs:
        model = instantiate(tool.build_config(path, args, str(out), seed=0).model)
        widths.add((model.head.box_branches[0][0].conv.out_channels,
                    model.head.cls_branches[0][1].conv.out_channels))  # fmt: skip
    assert widths == {(64, 32)}


def test_spread_is_mean_and_sample_std():
    assert spread([10.0, 12.0, 14.0]) == {"mean": 12.0, "std": 2.0, "values": [10.0, 12.0, 14.0]}
    assert spread([5.0, None])["std"] is None


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
    with pytest.raises(SystemExit, match="error: invalid config:(.|\n)*max_iters"):
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
    assert len(calls) == 4 and [r["latency_ms"] for r in rows] == [1.5, 1.5]  # 2 rows x 2 seeds
    # everything but the latency is the first run's, read back from the row's result file
    def strip(row):
        return {k: v for k, v in row.items() if not k.startswith("latency") and k != "runs"}

    assert [strip(r) for r in rows] == [strip(r) for r in report["rows"]]
    md = (out / "ablation.md").read_text()
    assert "`--latency-only`" in md and "--latency-only" not in md.split("```")[1]  # command
    # the model really carries the trained weights of model_final.pth
    import torch
    final = torch.load(out / "PRNet__prnet_s__seed0" / "model_final.pth", weights_only=True)
    final = final["model"]
    name, value = next((k, v) for k, v in final.items() if v.dtype.is_floating_point)
    torch.testing.assert_close(calls[0].state_dict()[name], value)


@pytest.mark.parametrize("option, names", [("--ultralytics", ["yolo11n"]), ("--configs", ["a.py"])])
def test_overrides_taken_by_a_list_option_are_refused(option, names, capsys):
    """``--ultralytics yolo11n key=value``: the list option would take the overrides, and every
    row would train without them; the command stops and says where to put them."""
    argv = ["--configs", "b.py", "--epochs", "1", option, *names, "model.backbone.scale=n"]
    with pytest.raises(SystemExit) as info:
        ablation.parse_args(argv)
    assert info.value.code == 2
    assert f"{option} took the config overrides ['model.backbone.scale=n']" in capsys.readouterr().err
    fine = ablation.parse_args([option, *names, "--epochs", "1", "model.backbone.scale=n"] +
                               (["--configs", "b.py"] if option != "--configs" else []))
    assert fine.opts == ["model.backbone.scale=n"]
