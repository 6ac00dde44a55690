"""prnet.config: unknown override keys and dataset names are reported with suggestions."""

from __future__ import annotations

import pytest
from detectron2.config import LazyConfig

import prnet.data  # noqa: F401  (registers the datasets)
from prnet.config import ConfigError, check_config, check_dataset_names, check_overrides

CONFIG = "configs/demo/prnet_n_synthetic.py"


@pytest.fixture(scope="module")
def cfg():
    return LazyConfig.load(CONFIG)


def test_valid_overrides_pass(cfg):
    overrides = [
        "train.max_iter=10",
        "train.ema.decay=0.99",
        "dataloader.train.total_batch_size=2",
        "dataloader.train.dataset.names=synthetic_aerial_train",
        "+train.new_key=1",  # explicit addition, as in hydra
    ]
    assert check_overrides(cfg, overrides) == []
    out = check_config(cfg, overrides)
    assert out.train.max_iter == 10
    assert cfg.train.max_iter is None and "new_key" not in cfg.train  # cfg itself unchanged


def test_unknown_key_names_full_path_allowed_keys_and_close_match(cfg):
    (problem,) = check_overrides(cfg, ["train.ema.decy=0.9"])
    assert problem.startswith("unknown key 'train.ema.decy' (in override 'train.ema.decy=0.9')")
    assert "allowed at train.ema: decay, enabled, eval_raw, period, tau" in problem
    assert problem.endswith("did you mean 'decay'?")
    (problem,) = check_overrides(cfg, ["trian.max_iter=3"])
    assert "allowed at top level: dataloader, lr_multiplier, model, optimizer, train" in problem
    assert "did you mean 'train'?" in problem


def test_key_below_a_value_and_malformed_override(cfg):
    problems = check_overrides(cfg, ["train.seed.x=1", "train.seed"])
    assert problems[0] == "unknown key 'train.seed.x': train.seed is a value (int), not a dict"
    assert problems[1] == "override 'train.seed' is not key=value"


def test_lazycall_arguments_not_in_the_file_are_allowed(cfg):
    # get_detection_dataset_dicts(names, filter_empty, min_keypoints, proposal_files, ...)
    assert check_overrides(cfg, ["dataloader.train.dataset.min_keypoints=0"]) == []
    (problem,) = check_overrides(cfg, ["dataloader.train.dataset.name=x"])
    assert "filter_empty, min_keypoints, names" in problem and "did you mean 'names'" in problem


def test_unknown_dataset_name_lists_registered_and_close_match(cfg):
    registered = ["synthetic_aerial_demo_train", "synthetic_aerial_val", "visdrone2019_val"]
    with pytest.raises(ConfigError) as info:
        check_config(cfg, ["dataloader.test.dataset.names=visdrone2019_vall"], registered)
    (problem,) = [p for p in info.value.problems if p.startswith("dataloader.test")]
    assert problem.startswith("dataloader.test.dataset.names: unknown dataset 'visdrone2019_vall'")
    assert "did you mean 'visdrone2019_val'?" in problem
    assert "(registered: synthetic_aerial_demo_train, " in problem
    assert check_dataset_names(cfg) == []  # the demo config's own names are registered
