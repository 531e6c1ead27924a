"""Weather4cast satellite crops: ``HRIT/*.reflbt0.ns.h5`` with dataset ``REFL-BT``.

``REFL-BT`` has shape (T, 11, H, W), float, already calibrated: brightness
temperature in K for the IR/WV channels, reflectance for IR_016/VIS006/VIS008.
The channel axis follows :data:`W4C_CHANNELS` (the challenge's alphabetical
order: IR_016, IR_039, IR_087, IR_097, IR_108, IR_120, IR_134, VIS006, VIS008,
WV_062, WV_073). The file carries no georeference and no time stamps: pass the
region's ``grid`` and the ``start_time`` of slot 0 (15-min slots), otherwise
the Fields get a unit pixel grid (``attrs["georeferenced"] = False``) and NaT.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike

import numpy as np

from qpeflow.errors import input_error
from qpeflow.io.field import Field
from qpeflow.io.grid import Grid
from qpeflow.io.hdf5 import open_hdf5
from qpeflow.io.satellite_common import SEVIRI_CHANNELS, channel_field, missing_channel

W4C_CHANNELS: tuple[str, ...] = SEVIRI_CHANNELS
W4C_DATASET = "REFL-BT"


def read_w4c_hrit(
    path: str | PathLike[str],
    channels: Sequence[str] | None = None,
    grid: Grid | None = None,
    start_time: np.datetime64 | None = None,
    cadence_minutes: int = 15,
    time_index: slice | None = None,
) -> list[Field]:
    """Read a Weather4cast ``REFL-BT`` file: one Field per (time slot, channel), time-major.

    Args:
        channels: channel names to return (default all 11, in :data:`W4C_CHANNELS` order).
        grid: the region's Grid (H, W); default a unit pixel grid.
        start_time: time of slot 0; slot i is ``start_time + i * cadence_minutes``.
        time_index: a slice of slots to read (the files hold months of slots).
    """
    wanted = list(channels) if channels else list(W4C_CHANNELS)
    for ch in wanted:
        if ch not in W4C_CHANNELS:
            raise missing_channel(path, ch, list(W4C_CHANNELS))
    with open_hdf5(path) as fh:
        if W4C_DATASET not in fh:
            raise input_error(path, f"no {W4C_DATASET!r} dataset (not a Weather4cast HRIT file)")
        dset = fh[W4C_DATASET]
        if dset.ndim != 4 or dset.shape[1] != len(W4C_CHANNELS):
            raise input_error(path, f"{W4C_DATASET!r} has shape {dset.shape}, expected (T, 11, H, W)")
        block = np.asarray(dset[time_index or slice(None)], dtype=np.float32)
    first = 0 if time_index is None else (time_index.start or 0)
    georef = grid is not None
    grid = grid or Grid("+proj=eqc +units=m", 0.0, 1.0, 0.0, -1.0, block.shape[2:])
    fields = []
    for i, frame in enumerate(block):
        t = (
            start_time + np.timedelta64((first + i) * cadence_minutes, "m")
            if start_time is not None
            else np.datetime64("NaT", "s")
        )
        for ch in wanted:
            fields.append(
                channel_field(
                    frame[W4C_CHANNELS.index(ch)],
                    ch,
                    np.datetime64(t, "s"),
                    grid,
                    str(path),
                    {"georeferenced": georef, "time_slot": first + i},
                )
            )
    return fields
