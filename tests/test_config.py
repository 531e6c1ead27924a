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


@pytest.mark.parametrize(
    "override, words",
    [
        ("train.lr=.nan", "train.lr: nan is out of range"),
        ("train.lr=-1", "train.lr: -1.0 is out of range"),
        ("data.patch=0", "data.patch: 0 is out of range"),
        ("train.ema_decay=5", "train.ema_decay: 5.0 is out of range"),
        ("eval.fss_scales=[1,0]", "eval.fss_scales: 0 is out of range"),
        ("eval.thresholds=[]", "eval.thresholds: must not be empty"),
        ("prepare.val_fraction=0.9", "val_fraction \\+ prepare.test_fraction"),
        ("model.dropout=1", "model.dropout: 1.0 is out of range"),
        ("sample.members=0", "sample.members: 0 is out of range"),
    ],
)
def test_ranges_are_checked_where_the_dataclasses_are_built(override, words):
    with pytest.raises(QpeflowError, match=words) as info:
        load_config(None, [override])
    assert "\n" not in str(info.value)


def test_ranges_hold_for_replace_and_every_shipped_config():
    import dataclasses

    from tests.paths import CONFIGS

    for path in sorted(CONFIGS.glob("*.yaml")):
        load_config(path)  # every shipped config is in range
    with pytest.raises(QpeflowError, match="train.lr"):
        dataclasses.replace(ExperimentConfig().train, lr=float("inf"))


def test_non_utf8_config_is_one_line(tmp_path):
    f = tmp_path / "latin1.yaml"
    f.write_bytes("train:\n  out: caf\xe9\n".encode("latin-1"))
    with pytest.raises(QpeflowError, match="latin1.yaml: not UTF-8 text"):
        load_config(f)


def test_configs_written_before_a_rename_still_read() -> None:
    from qpeflow.config import config_from_dict

    old = config_from_dict({"prepare": {"rain_weighted": True, "patch": 48}})
    assert old.prepare.rain_weighted_splits == ("train", "val", "test") and old.prepare.patch == 48
    assert config_from_dict({"prepare": {"rain_weighted": False}}).prepare.rain_weighted_splits == ()
    assert config_from_dict({}).prepare.rain_weighted_splits == ("train",)
