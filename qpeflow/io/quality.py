"""Radar quality as a mask: OPERA ``QIND``, Meteo-France ``QUALITY``, the team's ``rain_quality``.

Readers that find a quality field keep it as ``Field.attrs["quality"]``, an array of the
field's shape in percent (0-100, NaN = invalid/unknown; ODIM ``QIND`` in 0-1 is scaled by 100).
:func:`apply_quality` turns every pixel whose quality is below the threshold (the one config
key ``prepare.quality_threshold``, default 50 as in the team's case study) into NaN, i.e. masked
in a prepared store. A field without quality is returned unchanged.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from qpeflow.errors import input_error
from qpeflow.io.field import Field


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
