import pytest

from qpeflow.config import ExperimentConfig, config_from_dict, config_to_dict, load_config
from qpeflow.errors import QpeflowError


def test_roundtrip_and_overrides(tmp_path):
    f = tmp_path / "e.yaml"
    f.write_text("train:\n  steps: 5\nmodel:\n  channel_mults: [1, 2]\n")
    cfg = load_config(f, ["train.lr=0.001", "data.store=s.zarr", "model.attention=false"])
    assert cfg.train.steps == 5 and cfg.train.lr == 0.001
    assert cfg.model.channel_mults == (1, 2) and cfg.model.attention is False
    assert cfg.data.store == "s.zarr"
    assert config_from_dict(config_to_dict(cfg)) == cfg
    assert load_config() == ExperimentConfig()


def test_unknown_key_and_bad_type_are_clear(tmp_path):
    with pytest.raises(QpeflowError, match="unknown key"):
        load_config(None, ["train.stpes=3"])
    with pytest.raises(QpeflowError, match="train.steps"):
        load_config(None, ["train.steps=abc"])
    with pytest.raises(QpeflowError, match="not found"):
        load_config(tmp_path / "nope.yaml")
