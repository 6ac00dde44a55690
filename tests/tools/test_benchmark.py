"""tools/benchmark.py: every runtime side by side in one JSON, with median, p90 and the spread,
the frame pipeline at batch 1, unavailable runtimes reported with their reason, and noisy timings
flagged."""
import json
import os

import pytest

from prnet.analysis import time_function
from prnet.cli import benchmark
from prnet.export import openvino_unavailable_reason
from prnet.utils.testing import repo_root


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "b.json"
    backends = ["eager", "eager_fused", "onnxruntime", "tensorrt"]
    if openvino_unavailable_reason() is None:
        backends.append("openvino")
    config = os.path.join(repo_root(), "configs", "PRNet", "prnet_n.py")
    benchmark.main(["--config-file", config, "--size", "64", "--batch", "1", "2",
                    "--warmup", "1", "--iters", "3", "--rounds", "2", "--source-size", "72", "128",
                    "--layer-profile", "5",
                    "--backends", *backends, "--output", str(out)])  # fmt: skip
    return json.loads(out.read_text())


def test_every_runtime_side_by_side(report):
    results = report["results"]
    assert "CUDA" in results["tensorrt"]["skipped"]
    for name in [n for n in results if n != "tensorrt"]:
        b1 = results[name]["batch_1"]
        assert {"median_ms", "p90_ms", "p10_ms", "spread"} <= set(b1["model"])
        assert b1["model"]["p90_ms"] >= b1["model"]["median_ms"] > 0
        assert b1["pipeline"]["median_ms"] > 0 and b1["pipeline_over_model"] > 0
        assert b1["decode"]["median_ms"] > 0 and "decode" not in results[name]["batch_2"]
        assert "ratio_to_eager" in b1 and "batch_2" in results[name]
        assert len(b1["model"]["samples_ms"]) == b1["model"]["iters"] == 2 * 3  # two rounds pooled
        assert len(b1["ratio_to_eager_by_round"]) == len(b1["pipeline_over_model_by_round"]) == 2
    assert results["eager"]["batch_1"]["ratio_to_eager"] == 1.0
    if "openvino" in results:  # per-layer counters: the slowest layers and the time by kind
        profile = results["openvino"]["layer_profile"]
        assert len(profile["slowest_layers"]) == 5 and profile["total_ms"] > 0
        times = [layer["ms"] for layer in profile["slowest_layers"]]
        assert times == sorted(times, reverse=True)
        assert sum(profile["by_type_ms"].values()) == pytest.approx(profile["total_ms"])
        assert "layer_profile" not in results["eager"]
    compute = report["compute"]  # the 72x128 frame -> 36x64 -> padded to the coarsest stride
    assert compute["input_hw"] == [64, 64] and compute["conv_gflops"] > 0
    assert compute["floor_ms"] == pytest.approx(compute["conv_gflops"] / compute["matmul_gflops_per_s"] * 1e3)
    eager = results["eager"]["batch_1"]
    assert eager["conv_gflops_per_s"] == pytest.approx(compute["conv_gflops"] / eager["model"]["median_ms"] * 1e3)
    assert isinstance(report["noisy"], list)


def test_rounds_pool_samples_and_take_the_median_ratio():
    """A machine that slows down between rounds: pooled timings, per-round ratios to eager."""
    from prnet.analysis import summarize_times

    def one_round(model_ms, pipeline_ms):
        step = {"model": summarize_times(model_ms), "pipeline": summarize_times(pipeline_ms)}
        step["pipeline_over_model"] = step["pipeline"]["median_ms"] / step["model"]["median_ms"]
        return {"batch_1": step}

    eager = [one_round([100.0], [110.0]), one_round([200.0], [220.0]), one_round([150.0], [150.0])]
    fast = [one_round([40.0], [50.0]), one_round([90.0], [90.0]), one_round([75.0], [75.0])]
    pooled = benchmark.pool_rounds(fast, eager)["batch_1"]
    assert pooled["model"]["samples_ms"] == [40.0, 90.0, 75.0]
    assert pooled["model"]["median_ms"] == 75.0
    assert pooled["ratio_to_eager_by_round"] == [0.4, 0.45, 0.5]
    assert pooled["ratio_to_eager"] == 0.45  # not 75 / 150 of the pooled medians
    assert pooled["pipeline_over_model"] == 1.0 and pooled["throughput_ips"] == 1000 / 75


def test_noisy_timings_are_flagged():
    quiet = {"model": {"spread": 1.1}, "pipeline": {"spread": 1.2}}
    noisy = {"model": {"spread": 1.8}}
    flagged = benchmark._noisy({"a": {"batch_1": quiet}, "b": {"batch_1": noisy}, "c": {"skipped": "x"}})
    assert flagged == ["b/batch_1/model"]


def test_time_function_spread():
    calls = iter([1.0] * 2 + [0.0] * 100)
    t = time_function(lambda: next(calls), warmup=0, iters=5)
    assert t["spread"] == pytest.approx(t["p90_ms"] / t["median_ms"])
    assert t["min_ms"] <= t["p10_ms"] <= t["median_ms"] <= t["p90_ms"] <= t["max_ms"]
