"""The shipped configs stay loadable: training TOMLs by TrainConfig, accelerate YAMLs by accelerate itself."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted((ROOT / "configs" / "train").glob("*.toml")), ids=lambda p: p.name)
def test_training_configs_parse(path):
    from paistudio.train.config import TrainConfig

    cfg = TrainConfig.load(path)
    assert cfg.train.steps >= 1 and cfg.augment.ref_count[1] <= 3
    if cfg.model.wan:
        assert cfg.train.gradient_checkpointing and cfg.train.lora_rank > 0


@pytest.mark.parametrize("path", sorted((ROOT / "configs" / "accelerate").glob("*.yaml")), ids=lambda p: p.name)
def test_accelerate_configs_parse(path):
    pytest.importorskip("accelerate")
    from accelerate.commands.config.config_args import load_config_from_file

    cfg = load_config_from_file(str(path))
    assert cfg.mixed_precision == "bf16" and not cfg.use_cpu
