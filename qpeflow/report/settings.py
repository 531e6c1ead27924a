"""The evaluation settings behind a set of scores files, from which captions and columns are written.

``qpeflow evaluate`` records its settings (``qpeflow.config.EvalConfig`` plus the
suite's localisation threshold / window and RAPSD cut-off) in every scores file as
``meta.eval``. The report takes them from there, so that changing, say,
``eval.fss_thresholds`` changes the table's columns, the figures' curves and every
caption consistently; a scores file without ``meta.eval`` (older files) falls back
to the defaults of :class:`qpeflow.config.EvalConfig` and
:class:`qpeflow.verify.suite.SuiteSettings`.

Derived choices (documented in the report's captions):

- ``headline_threshold``: the lowest categorical threshold (rain / no rain, 0.1 mm/h by default);
- ``key_thresholds``: the FSS thresholds that are also categorical thresholds;
- ``fss_threshold`` / ``fss_scale``: the middle FSS threshold and the scale two thirds up the
  configured scales (5 mm/h and 16 px by default) for the table's FSS column;
- ``prob_threshold``: the first Brier threshold, used for P(R > x) in the example maps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from qpeflow.config import EvalConfig
from qpeflow.verify.suite import SuiteSettings


def _fmt(values: Sequence[float], unit: str) -> str:
    """'1, 5 and 10 mm/h' for (1.0, 5.0, 10.0)."""
    text = [f"{v:g}" for v in values]
    return (", ".join(text[:-1]) + " and " + text[-1] if len(text) > 1 else "".join(text)) + f" {unit}"


@dataclass(frozen=True)
class ReportSettings:
    """Thresholds (mm/h) and scales (px) the scores were computed with."""

    thresholds: tuple[float, ...]
    fss_thresholds: tuple[float, ...]
    fss_scales: tuple[int, ...]
    brier_thresholds: tuple[float, ...]
    localisation_threshold: float
    localisation_scale: int
    small_scale_px: float

    @classmethod
    def from_meta(cls, meta: dict[str, Any] | None) -> ReportSettings:
        """From a scores file's ``meta.eval`` (missing keys: the defaults of EvalConfig / SuiteSettings)."""
        base = {**SuiteSettings().__dict__, **EvalConfig().__dict__, **(meta or {})}
        return cls(
            thresholds=tuple(float(v) for v in base["thresholds"]),
            fss_thresholds=tuple(float(v) for v in base["fss_thresholds"]),
            fss_scales=tuple(int(v) for v in base["fss_scales"]),
            brier_thresholds=tuple(float(v) for v in base["brier_thresholds"]),
            localisation_threshold=float(base["localisation_threshold"]),
            localisation_scale=int(base["localisation_scale"]),
            small_scale_px=float(base["small_scale_px"]),
        )

    @property
    def headline_threshold(self) -> float:
        return min(self.thresholds)

    @property
    def key_thresholds(self) -> tuple[float, ...]:
        return tuple(t for t in self.fss_thresholds if t in self.thresholds)

    @property
    def fss_threshold(self) -> float:
        return self.fss_thresholds[len(self.fss_thresholds) // 2]

    @property
    def fss_scale(self) -> int:
        return self.fss_scales[len(self.fss_scales) * 2 // 3]

    @property
    def prob_threshold(self) -> float:
        return self.brier_thresholds[0]

    def text(self, name: str) -> str:
        """A field as caption text: ``text("fss_thresholds")`` -> '1, 5 and 10 mm/h'."""
        value = getattr(self, name)
        unit = "px" if "scale" in name else "mm/h"
        return _fmt(value, unit) if isinstance(value, tuple) else f"{value:g} {unit}"


def settings_of_scores(metas: Sequence[dict[str, Any]]) -> tuple[ReportSettings, list[str]]:
    """The settings of the first scores file, and a warning when the files disagree."""
    all_settings = [ReportSettings.from_meta(m.get("eval")) for m in metas] or [ReportSettings.from_meta(None)]
    first = all_settings[0]
    differ = [f.name for f in fields(first) if any(getattr(s, f.name) != getattr(first, f.name) for s in all_settings)]
    warnings = (
        [
            f"The scores files were computed with different evaluation settings ({', '.join(differ)}); "
            "captions follow the first file."
        ]
        if differ
        else []
    )
    return first, warnings
