"""Device choice and mixed precision: CUDA when present, the CPU otherwise.

bf16 autocast is used on CUDA only: on the CPU it does not pay (ENVIRONMENT.md,
"Speed") and fp32 keeps CPU runs bit-for-bit reproducible.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from qpeflow.errors import QpeflowError

DEVICE_NAMES = ("auto", "cpu", "cuda")


def pick_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """``"auto"`` -> ``cuda:<local_rank>`` when CUDA is available, else ``cpu``.

    Args:
        name: ``auto`` | ``cpu`` | ``cuda`` (also ``cuda:N``).
        local_rank: the process's GPU index under torchrun (ignored on the CPU).

    Raises:
        QpeflowError: an unknown name, or ``cuda`` asked for where there is none.
    """
    base = name.split(":", 1)[0]
    if base not in DEVICE_NAMES:
        raise QpeflowError(f"train.device {name!r}: expected one of {DEVICE_NAMES}")
    if base == "cpu" or (base == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise QpeflowError(f"train.device {name!r}: CUDA is not available on this machine")
    if ":" in name:
        return torch.device(name)
    return torch.device("cuda", local_rank)


@contextlib.contextmanager
def autocast(device: torch.device) -> Iterator[None]:
    """bf16 autocast on CUDA; nothing (fp32) elsewhere."""
    if device.type == "cuda":
        with torch.autocast("cuda", dtype=torch.bfloat16):
            yield
    else:
        yield
