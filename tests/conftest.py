"""Shared test fixtures: real sample data through QPEFLOW_DATA, skipped with a reason when absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("SATPY_DOWNLOAD_AUX", "False")
os.environ.setdefault("MPLBACKEND", "Agg")

import torch

from qpeflow.io.sample_data import data_path, missing_reason

# Tiny test tensors run far faster on one thread (measured 37x on a loaded 2-core machine).
torch.set_num_threads(1)


@pytest.fixture
def real_data():
    """``real_data("radar/OPERA/20180824")`` -> Path, or skip with the reason it is missing."""

    def get(relative: str) -> Path:
        reason = missing_reason(relative)
        if reason is not None:
            pytest.skip(reason)
        return data_path(relative)

    return get
