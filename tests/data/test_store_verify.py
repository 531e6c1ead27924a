"""A store is verified when it is opened (issue 15, case 6): missing chunks, NaN truth where the mask is True,
non-finite inputs and unreadable chunks are one-line errors naming the store; and what may be replaced (case 1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr

from qpeflow.config import DataConfig
from qpeflow.data.dataset import StoreDataset, open_store
from qpeflow.data.store import check_store_target, is_qpeflow_store, verify_store
from qpeflow.errors import QpeflowError
from tests.writers.store import CHANNELS, make_tiny_store


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return make_tiny_store(tmp_path / "s.zarr", n=8, size=8)


def _error(store: Path, words: str) -> None:
    with pytest.raises(QpeflowError, match=words) as info:
        open_store(store)
    assert str(store) in str(info.value) and "\n" not in str(info.value)


def test_a_good_store_passes(store: Path) -> None:
    verify_store(store)
    assert len(StoreDataset(store, DataConfig(channels=CHANNELS[:5], patch=8), "train")) > 0


@pytest.mark.parametrize("name", ["inputs", "target", "mask"])
def test_missing_chunk_is_refused(store: Path, name: str) -> None:
    chunks = sorted(p for p in (store / name).iterdir() if not p.name.startswith("."))
    chunks[0].unlink()  # zarr would read NaN / False in its place without a word
    _error(store, f"damaged store: '{name}' lacks 1 of its {len(chunks)} chunk")


def test_nan_truth_where_the_mask_is_true(store: Path) -> None:
    target = zarr.open_array(str(store / "target"), mode="r+")
    values = np.asarray(target[:])
    values[5, 0, 3, 3] = np.nan
    target[:] = values
    _error(store, "target of sample 5 is NaN or negative where the mask is True")


def test_non_finite_inputs(store: Path) -> None:
    inputs = zarr.open_array(str(store / "inputs"), mode="r+")
    values = np.asarray(inputs[:])
    values[2, 0, 0, 0, 0] = np.inf
    inputs[:] = values
    _error(store, "non-finite inputs in samples")


def test_unreadable_chunk(store: Path) -> None:
    chunk = sorted(p for p in (store / "target").iterdir() if not p.name.startswith("."))[0]
    chunk.write_bytes(b"\x00garbage" * 8)
    _error(store, "damaged store: cannot read it")


def test_what_may_be_replaced(store: Path, tmp_path: Path) -> None:
    assert is_qpeflow_store(store)
    check_store_target(store)  # a qpeflow store: replaced without asking
    check_store_target(tmp_path / "absent.zarr")
    other = tmp_path / "photos"
    other.mkdir()
    (other / "holiday.jpg").write_bytes(b"\xff\xd8")
    assert not is_qpeflow_store(other)
    with pytest.raises(QpeflowError, match="photos: exists and is not a qpeflow store.*--overwrite"):
        check_store_target(other)
    check_store_target(other, overwrite=True)
    file = tmp_path / "notes.txt"
    file.write_text("x")
    with pytest.raises(QpeflowError, match="notes.txt: is a file"):
        check_store_target(file)
