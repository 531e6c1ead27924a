"""Archive-scale sevmos prepare on dask.distributed: blocks, zarr regions, resumption, atomic store (issue 13)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from qpeflow.data import archive_prepare
from qpeflow.data.archive_blocks import block_paths, finished_block, plan_blocks
from qpeflow.data.archive_prepare import prepare_sevmos_archive, work_folder
from qpeflow.data.sevmos_prepare import prepare_sevmos
from qpeflow.data.store import verify_store
from qpeflow.errors import QpeflowError
from tests.data.test_sevmos_prepare import _archive, _cfg

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    """One local cluster of 2 single-threaded worker processes for the module, as the CLI starts."""
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def test_plan_blocks_carry_their_window_context(tmp_path):
    files = [tmp_path / f"f{i:02d}" for i in range(10)]
    plans = plan_blocks(files, 4, 3)
    assert [(p.index, len(p.files), p.context) for p in plans] == [(0, 4, 0), (1, 6, 2), (2, 4, 2)]
    assert plans[1].files[2] == str(files[4])  # own files start after the context


def test_archive_store_matches_the_serial_one(tmp_path, client):
    _archive(tmp_path / "sev", [0, 1, 2, 4, 5, 6, 100, 101, 102])  # a gap at slot 3 and a second day
    cfg = _cfg(dry_keep_fraction=1.0, val_fraction=0.0, test_fraction=0.5)
    serial = prepare_sevmos(cfg, tmp_path / "sev", tmp_path / "serial.zarr", progress=False)
    blocks = prepare_sevmos_archive(cfg, tmp_path / "sev", tmp_path / "a.zarr", client=client, block_files=2)
    a, b = xr.open_zarr(blocks.path), xr.open_zarr(serial.path)
    assert blocks.counts == serial.counts and a.sizes == b.sizes  # dry_keep 1: no random draw matters
    for name in ("inputs", "target", "mask", "valid_time", "split", "row0", "col0"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    assert a.attrs["ir_mean"] == pytest.approx(b.attrs["ir_mean"]) and a.attrs["ir_std"] == pytest.approx(
        b.attrs["ir_std"]
    )
    assert a.attrs["windows_dropped_missing_slot"] == b.attrs["windows_dropped_missing_slot"] == 2
    assert a.attrs["prepare_engine"] == "dask.distributed" and a.attrs["block_files"] == 2
    verify_store(blocks.path)
    assert not work_folder(blocks.path).exists()


def test_killed_prepare_resumes_from_verified_blocks(tmp_path, client, monkeypatch):
    _archive(tmp_path / "sev", list(range(8)))
    cfg, out = _cfg(dry_keep_fraction=0.5), tmp_path / "s.zarr"

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies after its blocks, before the store is assembled

    monkeypatch.setattr(archive_prepare, "_assemble", killed)
    with pytest.raises(KeyboardInterrupt):
        prepare_sevmos_archive(cfg, tmp_path / "sev", out, client=client, block_files=3)
    monkeypatch.undo()
    work = work_folder(out)
    assert not out.exists() and (work / "README").is_file()  # marked incomplete, no store under its name
    assert all(finished_block(work, i) is not None for i in range(3))
    npz, _ = block_paths(work, 1)
    first = npz.read_bytes()
    npz.write_bytes(first[:-10])  # a block damaged (or killed mid-way): not verified, so redone
    assert finished_block(work, 1) is None
    mtime0 = block_paths(work, 0)[0].stat().st_mtime_ns
    resumed = prepare_sevmos_archive(cfg, tmp_path / "sev", out, client=client, block_files=3)
    fresh = prepare_sevmos_archive(cfg, tmp_path / "sev", tmp_path / "fresh.zarr", client=client, block_files=3)
    a, b = xr.open_zarr(resumed.path), xr.open_zarr(fresh.path)
    np.testing.assert_array_equal(a["inputs"].values, b["inputs"].values)  # per-block generators: same draws
    np.testing.assert_array_equal(a["mask"].values, b["mask"].values)
    assert not work.exists() and mtime0 > 0


def test_resume_with_other_settings_starts_afresh_and_errors_name_files(tmp_path, client):
    _archive(tmp_path / "sev", [0, 1, 2])
    out = tmp_path / "s.zarr"
    work = work_folder(out)
    (work / "blocks").mkdir(parents=True)
    (work / "manifest.json").write_text(json.dumps({"other": 1}))
    (work / "blocks" / "00000.json").write_text("{}")
    prepare_sevmos_archive(_cfg(), tmp_path / "sev", out, client=client, block_files=2)
    assert out.exists() and not work.exists()
    _archive(tmp_path / "gap", [0, 2, 4])
    with pytest.raises(QpeflowError) as err:
        prepare_sevmos_archive(_cfg(), tmp_path / "gap", tmp_path / "g.zarr", client=client, block_files=2)
    assert "time gap" in str(err.value) and "sevmos_2019-06-01_124000.nc" in str(err.value)
    assert not (tmp_path / "g.zarr").exists()
    _archive(tmp_path / "nochan", [0, 1], drop="WV_062")
    with pytest.raises(QpeflowError, match=r"sevmos_2019-06-01_1[0-9]+\.nc: channel 'WV_062' not in file"):
        prepare_sevmos_archive(_cfg(), tmp_path / "nochan", tmp_path / "n.zarr", client=client, block_files=2)
    assert not (tmp_path / "n.zarr").exists()
