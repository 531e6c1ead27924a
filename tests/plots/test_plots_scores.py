"""Score figures (qpeflow.plots.scores / curves / panels): right panels, no crash on nulls."""

from __future__ import annotations

import io

import matplotlib.colors as mcolors
import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from qpeflow.plots.curves import (
    Curve,
    plot_qq_histogram,
    plot_rank_histograms,
    plot_rapsd,
    plot_reliability,
    plot_spread_skill,
)
from qpeflow.plots.palette import MODEL_PALETTE, TRUTH_COLOUR, model_colours
from qpeflow.plots.panels import CaseMaps, ModelMaps, plot_case
from qpeflow.plots.scores import (
    NfePoint,
    nfe_groups,
    plot_csi_bias,
    plot_fss_scales,
    plot_member_agreement,
    plot_quality_vs_nfe,
)

THR = np.array([0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0])
NAN7 = np.full(7, np.nan)


def has_coastlines(ax) -> bool:
    """Whether ``ax`` holds a LineCollection (coastlines / borders; graticule contours are ContourSets)."""
    from matplotlib.collections import LineCollection

    return any(type(c) is LineCollection and len(c.get_segments()) > 0 for c in ax.collections)


def curve(x, **series) -> Curve:
    return Curve(np.asarray(x, float), {k: np.asarray(v, float) for k, v in series.items()})


def map_axes(fig: Figure) -> list:
    """Axes that are not colourbars (colourbar axes carry a _colorbar attribute)."""
    return [ax for ax in fig.axes if not hasattr(ax, "_colorbar")]


def render(fig: Figure) -> np.ndarray:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=50)
    return np.asarray(Image.open(buf).convert("L"))


def line_colours(fig: Figure) -> set[str]:
    return {mcolors.to_hex(line.get_color()) for ax in fig.axes for line in ax.get_lines()}


def test_palette_is_stable_and_treats_every_model_alike() -> None:
    a = model_colours(["cfm", "unet", "gpi"])
    b = model_colours(["gpi", "unet", "cfm"])
    assert a == b and [a["cfm"], a["gpi"], a["unet"]] == list(MODEL_PALETTE[:3])  # sorted-name rule
    assert len(set(a.values())) == 3 and TRUTH_COLOUR not in a.values()


def test_csi_bias_two_axes_member_and_mean() -> None:
    colours = {"a": "#0072b2", "b": "#d55e00"}
    csi = {
        "a": curve(THR, member1=np.linspace(0.8, 0.2, 7), ensemble_mean=np.linspace(0.7, 0.1, 7)),
        "b": curve(THR, member1=np.linspace(0.6, 0.1, 7), ensemble_mean=np.linspace(0.6, 0.1, 7)),
    }
    bias = {"a": curve(THR, member1=np.full(7, 1.1), ensemble_mean=np.full(7, 0.8))}
    fig = plot_csi_bias(csi, bias, colours)
    assert len(fig.axes) == 2
    ax_c = fig.axes[0]
    # model a: member 1 + ensemble mean; model b: ensemble mean equals member 1 -> one line
    assert len(ax_c.get_lines()) == 3
    assert {"#0072b2", "#d55e00"} <= line_colours(fig)
    assert render(fig).std() > 5


def test_fss_one_axis_per_threshold_and_nulls() -> None:
    scales = [1, 2, 4, 8, 16, 32, 64]
    good = curve(scales, member1=np.linspace(0.3, 1, 7), ensemble_mean=np.linspace(0.4, 1, 7))
    null = curve(scales, member1=np.full(7, np.nan), ensemble_mean=np.full(7, np.nan))
    fig = plot_fss_scales({1.0: {"a": good}, 5.0: {"a": good, "z": null}, 10.0: {"z": null}})
    assert len(fig.axes) == 3
    assert fig.axes[2].texts and fig.axes[2].texts[0].get_text() == "no data"
    render(fig)


def test_qq_histogram_and_rapsd_two_axes_truth_black() -> None:
    q = curve([0.5, 0.9, 0.99], truth=[0.0, 2.0, 20.0], prediction=[0.0, 1.5, 12.0])
    h = curve([0.2, 2.0, 20.0], truth=[0.5, 0.3, 0.01], prediction=[0.6, 0.3, 0.0])
    fig = plot_qq_histogram({"a": q}, {"a": h}, {"a": "#0072b2"})
    assert len(fig.axes) == 2 and "#000000" in line_colours(fig)
    assert fig.axes[0].get_xscale() == "log" and fig.axes[0].get_yscale() == "log"
    lam = np.array([64.0, 16.0, 4.0, 2.0])
    fig = plot_rapsd(
        {"a": curve(lam, truth=[100, 1, 0.01, 0.001], prediction=[100, 1, 0.001, None])},
        {"a": curve(lam, ratio=[1.0, 1.0, 0.1, np.nan])},
        resolution_km=2.0,
    )
    assert len(fig.axes) == 2
    assert fig.axes[0].get_xlabel() == "wavelength (km)"
    assert fig.axes[0].get_xlim()[0] > fig.axes[0].get_xlim()[1], "large scales on the left"
    x_plotted = fig.axes[0].get_lines()[0].get_xdata()
    np.testing.assert_allclose(x_plotted, [128.0, 32.0, 8.0])  # px * 2 km, null dropped
    assert plot_rapsd({}, {}).axes[0].get_xlabel() == "wavelength (px)"


def test_rank_histograms_one_panel_per_ensemble() -> None:
    ranks = {
        "cfm": curve(range(5), frequency=[0.2] * 5),
        "ddpm": curve(range(9), frequency=np.r_[0.3, [0.05] * 7, 0.35]),
        "unet": curve(range(2), frequency=[np.nan, np.nan]),
    }
    fig = plot_rank_histograms(ranks)
    assert len(fig.axes) == 2 and [ax.get_title() for ax in fig.axes] == ["cfm", "ddpm"]
    flat = [ln.get_ydata()[0] for ln in fig.axes[1].get_lines()]
    assert flat == pytest.approx([1 / 9])
    assert len(plot_rank_histograms({"unet": ranks["unet"]}).axes) == 1


def test_spread_skill_and_reliability() -> None:
    fig = plot_spread_skill({"cfm": curve([0.5, 1, 2], rmse=[0.6, 1.1, 2.2]), "unet": curve([1], rmse=[None])})
    assert len(fig.axes) == 1 and len(fig.axes[0].get_lines()) == 2  # cfm + 1:1
    rel = {
        1.0: {"cfm": curve([0.1, 0.9], observed_frequency=[0.2, 0.8])},
        5.0: {"cfm": curve([0.1, 0.9], observed_frequency=[None, None])},
    }
    assert len(plot_reliability(rel).axes) == 2


def test_member_agreement_bars_with_na() -> None:
    fig = plot_member_agreement(
        {"cfm": 0.8, "unet": None, "gpi": float("nan")}, {"cfm": 1.5, "unet": None, "gpi": None}
    )
    assert len(fig.axes) == 2
    assert sum(t.get_text().strip() == "n/a" for t in fig.axes[0].texts) == 2
    assert len(fig.axes[0].patches) == 1


def test_quality_vs_nfe_groups_methods_with_several_steps() -> None:
    pts = [
        NfePoint("cfm_4", "cfm", 8, {"csi": 0.5, "p99_ratio": 0.8, "rapsd_small_scale_ratio": 0.7}),
        NfePoint("cfm_16", "cfm", 32, {"csi": 0.6, "p99_ratio": None, "rapsd_small_scale_ratio": 0.9}),
        NfePoint("unet", "unet", 1, {"csi": 0.55}),
    ]
    assert list(nfe_groups(pts)) == ["cfm"]
    fig = plot_quality_vs_nfe(pts, {"cfm_4": "#0072b2"})
    assert len(fig.axes) == 3
    assert len(fig.axes[0].get_lines()[0].get_xdata()) == 2
    assert len(fig.axes[1].get_lines()[0].get_xdata()) == 1  # the null P99 ratio is skipped
    assert fig.axes[0].get_xscale() == "log"
    empty = plot_quality_vs_nfe(pts[2:])
    assert len(empty.axes) == 3 and "several step counts" in empty.axes[0].texts[0].get_text()


def test_example_case_one_row_per_model_shared_rain_scale_and_mask() -> None:
    rng = np.random.default_rng(0)
    h = w = 16
    truth = rng.gamma(0.5, 4.0, (h, w))
    truth[:4] = 0.0
    mask = np.ones((h, w), bool)
    mask[:, :3] = False
    ens = ModelMaps(truth, mask, truth, 280 - truth, truth * 0.5, truth * 0.7, (truth > 1).astype(float))
    case = CaseMaps("2021-06-01 12:00 UTC", {"cfm": ens, "unet": ModelMaps(truth, mask, truth, 280 - truth)})
    fig = plot_case(case, 2.0)
    maps = map_axes(fig)
    assert len(maps) == 2 * 6 and len(fig.axes) - len(maps) == 3  # IR, rain and probability legends
    assert [ax.get_title() for ax in maps[:6]][-1] == "P(R > 2 mm/h)"
    assert [maps[0].get_ylabel(), maps[6].get_ylabel()] == ["cfm", "unet"]
    norms = {
        tuple(im.norm.boundaries) for ax in maps for im in ax.get_images() if isinstance(im.norm, mcolors.BoundaryNorm)
    }
    assert norms == {(0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)}
    truth_img = maps[1].get_images()[0]
    assert np.ma.getmaskarray(truth_img.get_array())[:, :3].all()  # masked -> 'bad' (grey)
    assert not np.ma.getmaskarray(truth_img.get_array())[5:, 3:].any()  # zeros -> 'under' (white), not bad
    assert not maps[9].get_images() and "1 member" in maps[9].texts[0].get_text()
    assert fig.get_size_inches()[0] * 100 <= 2000
    render(fig)


def test_example_case_draws_coastlines_on_a_georeferenced_grid() -> None:
    from qpeflow.io.grid import OPERA_CRS, Grid

    grid = Grid(OPERA_CRS, 900_000.0, 8000.0, -2_100_000.0, -8000.0, (40, 40))  # Ireland and Wales
    truth = np.zeros((40, 40))
    case = CaseMaps("t", {"unet": ModelMaps(truth, np.ones((40, 40), bool), truth)}, grid)
    fig = plot_case(case, 1.0)
    assert all(has_coastlines(ax) for ax in map_axes(fig)[1:3])  # coastline/border collections on the rain maps
