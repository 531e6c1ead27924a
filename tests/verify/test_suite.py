"""The suite of all scores: batches + merge equal one pass; summary names and JSON-safety."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qpeflow.verify import SuiteSettings, suite_accum, suite_compute, suite_init, suite_merge, summarise


def ensemble(seed: int, members=3, shape=(6, 24, 24)):
    rng = np.random.default_rng(seed)
    obs = rng.gamma(0.5, 6.0, shape) * (rng.random(shape) < 0.5)
    ens = obs[None] * rng.lognormal(0, 0.4, (members,) + shape) + rng.random((members,) + shape) * 1e-3
    obs[:, :, :2] = np.nan
    return ens, obs


def test_batches_and_merge_equal_one_pass():
    ens, obs = ensemble(0)
    whole = suite_init(3, (24, 24))
    suite_accum(whole, ens, obs)
    a, b = suite_init(3, (24, 24)), suite_init(3, (24, 24))
    suite_accum(a, ens[:, :2], obs[:2])
    suite_accum(b, ens[:, 2:5], obs[2:5])
    suite_accum(b, ens[:, 5:], obs[5:])
    one, merged = summarise(suite_compute(whole)), summarise(suite_compute(suite_merge(a, b)))
    assert len(one.scalars) == len(merged.scalars)
    for x, y in zip(one.scalars, merged.scalars):
        assert (x["name"], x["on"], x["threshold"], x["scale"]) == (y["name"], y["on"], y["threshold"], y["scale"])
        if x["value"] is not None:
            assert y["value"] == pytest.approx(x["value"], rel=1e-9, abs=1e-12), x["name"]
    assert suite_compute(suite_merge(a, b)).n_fields == 6


@pytest.mark.filterwarnings("error")
def test_summary_is_json_safe_for_dry_and_one_member_input():
    state = suite_init(1, (16, 16), SuiteSettings(fss_scales=(1, 4)))
    suite_accum(state, np.zeros((1, 2, 16, 16)), np.zeros((2, 16, 16)))
    summary = summarise(suite_compute(state))
    json.dumps({"scalars": summary.scalars, "curves": summary.curves}, allow_nan=False)
    undefined = [s for s in summary.scalars if s["value"] is None]
    assert undefined and all(s["reason"] for s in undefined)
    assert {s["name"] for s in summary.scalars if s["name"] == "fss" and s["scale"] == 4} == {"fss"}
    assert summary.curves["rank_histogram"]["x"] == [0.0, 1.0]
