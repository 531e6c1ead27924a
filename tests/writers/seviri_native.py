"""Write a small SEVIRI level-1.5 native file (``.nat``, EUMETSAT Data Store HRSEVIRI) in the real format.

The file is what ``seviri_l1b_native`` reads (satpy ``readers/seviri_l1b_native.py`` and the record
types of ``seviri_l1b_native_hdr.py``, after the EUMETSAT "MSG Level 1.5 Native Format" spec):

1. the 450400-byte header with archive (ASCII main and secondary product headers, the packet
   header, then ``15_DATA_HEADER``), built from satpy's own record dtype, zero-filled and then
   given the fields the reader needs: ``FormatName`` NATIVE, the selected band IDs (the 11 VIS/IR
   channels, no HRV), a region of interest (south/north lines, east/west columns, 1-based, of the
   3712 x 3712 grid), the satellite id (324 = MSG4 = Meteosat-11), the earth model, the planned
   repeat cycle times (CDS: days since 1958-01-01 and ms), ``LongitudeOfSSP`` 0, the reference
   grids (3712 lines of 3.0004 km, origin south-east), and per band the
   nominal calibration ``CalSlope`` / ``CalOffset`` (radiance = offset + slope * counts) with
   effective radiances (``PlannedChanProcessing`` 2);
2. the image: per scan line, one record per channel (packet header, line number, quality flags)
   whose ``line_data`` holds the counts packed 10 bits per pixel, most significant bit first;
   lines run south to north, columns east to west;
3. the 380363-byte trailer, zero (satpy then takes the bounds from the secondary header).
"""

from __future__ import annotations

import datetime as dt
from os import PathLike
from pathlib import Path

import numpy as np

CHANNELS = (
    "VIS006",
    "VIS008",
    "IR_016",
    "IR_039",
    "WV_062",
    "WV_073",
    "IR_087",
    "IR_097",
    "IR_108",
    "IR_120",
    "IR_134",
)
SLOPE, OFFSET = 0.2, -10.2  # mW m-2 sr-1 (cm-1)-1 per count, and at 0 counts
TRAILER_BYTES = 380363
EPOCH = dt.datetime(1958, 1, 1)


def _cds(t: dt.datetime) -> tuple[int, int]:
    d = t - EPOCH
    return d.days, d.seconds * 1000 + d.microseconds // 1000


def pack10(counts: np.ndarray) -> np.ndarray:
    """(..., n) counts 0-1023, n a multiple of 4 -> (..., n * 5 / 4) bytes, 10 bits each, MSB first."""
    c = counts.astype(np.uint16).reshape(*counts.shape[:-1], -1, 4)
    p0, p1, p2, p3 = (c[..., k] for k in range(4))
    out = np.stack(
        [p0 >> 2, ((p0 & 3) << 6) | (p1 >> 4), ((p1 & 15) << 4) | (p2 >> 6), ((p2 & 63) << 2) | (p3 >> 8), p3 & 255],
        axis=-1,
    )
    return out.astype(np.uint8).reshape(*counts.shape[:-1], -1)


def _header(start: dt.datetime, south: int, east: int, nlines: int, ncols: int):  # type: ignore[no-untyped-def]
    from satpy.readers.seviri_l1b_native_hdr import Msg15NativeHeaderRecord

    h = np.zeros(1, dtype=Msg15NativeHeaderRecord().get(True))
    h["15_MAIN_PRODUCT_HEADER"]["FormatName"] = (b"FormatName                  : ", b"NATIVE\n")
    sec = h["15_SECONDARY_PRODUCT_HEADER"]
    for key, value in (
        ("SelectedBandIDs", "XXXXXXXXXXX-"),
        ("SouthLineSelectedRectangle", south),
        ("NorthLineSelectedRectangle", south + nlines - 1),
        ("EastColumnSelectedRectangle", east),
        ("WestColumnSelectedRectangle", east + ncols - 1),
        ("NumberLinesVISIR", nlines),
        ("NumberColumnsVISIR", ncols),
        ("NumberLinesHRV", 3 * nlines),
        ("NumberColumnsHRV", 3 * ncols),
    ):
        sec[key] = (key.encode(), str(value).encode())
    h["GP_PK_SH1"]["PacketTime"] = _cds(start)
    data = h["15_DATA_HEADER"]
    data["SatelliteStatus"]["SatelliteDefinition"]["SatelliteId"] = 324
    data["GeometricProcessing"]["EarthModel"] = (2, 6378.169, 6356.5838, 6356.5838)
    acq = data["ImageAcquisition"]["PlannedAcquisitionTime"]
    for key, minutes in (("TrueRepeatCycleStart", 0), ("PlanForwardScanEnd", 12), ("PlannedRepeatCycleEnd", 15)):
        days, ms = _cds(start + dt.timedelta(minutes=minutes))
        acq[key] = (days, ms, 0, 0)
    cal = data["RadiometricProcessing"]["Level15ImageCalibration"]
    cal["CalSlope"], cal["CalOffset"] = SLOPE, OFFSET
    desc = data["ImageDescription"]
    desc["Level15ImageProduction"]["PlannedChanProcessing"] = 2
    for grid, step in (("ReferenceGridVIS_IR", 3.0004031658172607), ("ReferenceGridHRV", 1.0001343886)):
        n = 3712 if grid.endswith("IR") else 11136
        desc[grid] = (n, n, step, step, 2)  # lines, columns, steps (km), grid origin 2 = south-east
    return h


def _lines(counts: dict[str, np.ndarray], nlines: int, ncols: int, south: int):  # type: ignore[no-untyped-def]
    from satpy.readers.core.eum import time_cds_short  # the reader's own record types
    from satpy.readers.seviri_l1b_native_hdr import GSDTRecords

    pk = np.dtype([("GP_PK_HEADER", GSDTRecords.gp_pk_header), ("GP_PK_SH1", GSDTRecords.gp_pk_sh1)])
    rec = [
        ("gp_pk", pk),
        ("version", np.uint8),
        ("satid", np.uint16),
        ("time", (np.uint16, 5)),
        ("lineno", np.uint32),
        ("chan_id", np.uint8),
        ("acq_time", time_cds_short),
        ("line_validity", np.uint8),
        ("line_rquality", np.uint8),
        ("line_gquality", np.uint8),
        ("line_data", (np.uint8, ncols * 5 // 4)),
    ]
    lines = np.zeros(nlines, dtype=[("visir", (rec, len(CHANNELS)))])
    for k, ch in enumerate(CHANNELS):
        north_up = counts.get(ch, np.full((nlines, ncols), 250, np.uint16))
        stored = np.asarray(north_up)[::-1, ::-1]  # south first, east first
        lines["visir"]["line_data"][:, k] = pack10(stored)
        lines["visir"]["lineno"][:, k] = np.arange(south, south + nlines)
        lines["visir"]["chan_id"][:, k] = k + 1
        lines["visir"]["line_validity"][:, k] = 3
    return lines


def write_native(
    folder: str | PathLike[str],
    start: dt.datetime,
    counts: dict[str, np.ndarray],
    *,
    south: int = 3200,
    east: int = 1700,
) -> Path:
    """Write ``MSG4-SEVI-MSG15-0100-NA-<end>.000000000Z-NA.nat`` holding ``counts``: channel -> (ny, nx)
    counts 0-1023, row 0 north, column 0 west (nx a multiple of 4); the other VIS/IR channels hold 250.

    ``south`` / ``east`` are the 1-based line / column of the region's south-east corner.
    """
    ny, nx = np.asarray(next(iter(counts.values()))).shape
    if nx % 4:
        raise ValueError("the native format pads columns to a multiple of 4: give nx % 4 == 0")
    end = start + dt.timedelta(minutes=12, seconds=43)
    path = Path(folder) / f"MSG4-SEVI-MSG15-0100-NA-{end:%Y%m%d%H%M%S}.000000000Z-NA.nat"
    with open(path, "wb") as fh:
        fh.write(_header(start, south, east, ny, nx).tobytes())
        fh.write(_lines(counts, ny, nx, south).tobytes())
        fh.write(bytes(TRAILER_BYTES))
    return path
