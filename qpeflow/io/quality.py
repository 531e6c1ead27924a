"""Radar quality as a mask: OPERA ``QIND``, Meteo-France ``QUALITY``, the team's ``rain_quality``;
and negative rain (a corrupt or wrongly scaled file, or a BoM accumulation below 0) masked as no data.

Readers that find a quality field keep it as ``Field.attrs["quality"]``, an array of the
field's shape in percent (0-100, NaN = invalid/unknown; ODIM ``QIND`` in 0-1 is scaled by 100).
:func:`apply_quality` turns every pixel whose quality is below the threshold (the one config
key ``prepare.quality_threshold``, default 50 as in the team's case study) into NaN, i.e. masked
in a prepared store. A field without quality is returned unchanged.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from qpeflow.errors import input_error
from qpeflow.io.field import Field

log = logging.getLogger(__name__)


def quality_mask(quality: np.ndarray, threshold: float) -> np.ndarray:
    """True where ``quality`` (percent, NaN invalid) is >= ``threshold``; shape of ``quality``."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(quality) & (quality >= threshold)


def apply_quality(field: Field, threshold: float) -> Field:
    """``field`` with NaN where its ``attrs["quality"]`` is below ``threshold`` (percent).

    Raises:
        QpeflowError: the quality array does not have the field's shape.
    """
    quality = field.attrs.get("quality")
    if quality is None:
        return field
    quality = np.asarray(quality)
    if quality.shape != field.data.shape:
        raise input_error(field.source, f"quality field of shape {quality.shape} for data of shape {field.data.shape}")
    data = np.where(quality_mask(quality, threshold), field.data, np.nan).astype(np.float32)
    attrs = {**field.attrs, "quality_threshold": float(threshold)}
    return dataclasses.replace(field, data=data, attrs=attrs)


#: attribute of a radar Field: how many of its pixels held negative rain and were masked
NEGATIVE_ATTR = "negative_pixels_masked"


def mask_negative_rain(field: Field) -> Field:
    """Negative rain rates -> NaN (not observed), their count in ``attrs[NEGATIVE_ATTR]``."""
    negative = np.isfinite(field.data) & (field.data < 0)
    n = int(negative.sum())
    attrs = {**field.attrs, NEGATIVE_ATTR: n}
    data = np.where(negative, np.float32(np.nan), field.data).astype(np.float32) if n else field.data
    if n:
        log.warning(
            "%s: %d pixel(s) of negative rain (down to %.3g mm/h) masked as no data",
            field.source,
            n,
            float(field.data[negative].min()),
        )
    return Field(data, field.quantity, field.units, field.valid_time, field.grid, field.source, field.name, attrs)
