"""The calibration figure: one panel per split, named by its events, no band where a split has no rain."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

from benchmarks import benchmark_calibration as bc
from benchmarks import informativeness as inf


def _result() -> dict:
    th = list(inf.THRESHOLDS)
    nan = float("nan")

    def group(csi: list[float]) -> dict:
        scores = {"csi": csi, "pod": csi, "far": csi, "bias": csi}
        return {"learner": scores, "gpi": scores, "best_ir108": scores}

    dry_top = [0.4, 0.3, 0.2, 0.1, nan, nan]  # no rain >= 5 mm/h in this split
    entry = {"all": group(dry_top), "draws": {0: group(dry_top), 1: group(dry_top)}, "wet_fraction": 0.2}
    return {
        "thresholds": th,
        "splits": {"val": {**entry, "events": ["bom-20201031"]}, "test": {**entry, "events": ["a", "b"]}},
    }


def test_panels_are_named_by_their_events_and_nan_thresholds_draw_no_band() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # an all-NaN band would warn
        fig = bc.figure(_result())
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith("val (bom-20201031): 2 IR draws") and titles[1].startswith("test (2 events)")
    band = fig.axes[0].collections[0].get_paths()[0].vertices
    assert band[:, 0].max() <= 2.0 + 1e-9  # the band stops at the last threshold with rain
