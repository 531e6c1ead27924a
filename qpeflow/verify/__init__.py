"""Verification of rain-rate estimates: numpy/scipy only, no torch, nothing else from qpeflow.

Every score accumulates over batches of fields, as pysteps does:
``<score>_init(...) -> <score>_accum(state, pred, obs)* -> <score>_merge(a, b) -> <score>_compute(state)``,
so a test set larger than memory can be scored chunk by chunk. NaN pixels (outside the
radar coverage) are ignored everywhere; an undefined score (e.g. no rain in the truth) is
NaN with a reason (:class:`~qpeflow.verify.value.ScoreValue`), never a crash or a warning.

Modules: ``categorical`` (POD, FAR, CSI, HSS, ETS, bias), ``continuous`` (MAE, RMSE, ME,
Pearson, Spearman, on rain and log-rain), ``spatial`` (FSS), ``spectral`` (RAPSD),
``distribution`` (histograms, QQ, W1, extremes), ``ensemble`` (fair CRPS, rank histogram,
spread-skill, Brier, reliability), ``localisation`` (member-to-member FSS, centroid spread),
``suite`` (all of them together) and ``summary`` (named scalars and curves for the scores file).
"""

from qpeflow.verify.suite import SuiteScores, SuiteSettings, suite_accum, suite_compute, suite_init, suite_merge
from qpeflow.verify.summary import Summary, summarise
from qpeflow.verify.value import ScoreValue

__all__ = [
    "ScoreValue",
    "SuiteScores",
    "SuiteSettings",
    "Summary",
    "suite_accum",
    "suite_compute",
    "suite_init",
    "suite_merge",
    "summarise",
]
