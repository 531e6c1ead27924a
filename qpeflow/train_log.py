"""Training log: a CSV (step, loss, lr, steps_per_s, seconds) and TensorBoard when installed."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

COLUMNS = ("step", "loss", "lr", "steps_per_s", "seconds")


def _tensorboard(folder: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return None
    return SummaryWriter(str(folder / "tensorboard"))


class TrainLog:
    """Appends rows to ``<out>/log.csv``; on resume drops rows after the checkpoint's step.

    Args:
        out: the run folder.
        resume_step: keep only rows with step <= resume_step (None: start a new log).
    """

    def __init__(self, out: Path, resume_step: int | None = None) -> None:
        self.path = out / "log.csv"
        out.mkdir(parents=True, exist_ok=True)
        rows = self._kept_rows(resume_step)
        self._file = self.path.open("w", newline="")
        self._csv = csv.writer(self._file)
        self._csv.writerow(COLUMNS)
        self._csv.writerows(rows)
        self._file.flush()
        self._tb = _tensorboard(out)

    def _kept_rows(self, resume_step: int | None) -> list[list[str]]:
        if resume_step is None or not self.path.is_file():
            return []
        with self.path.open(newline="") as f:
            rows = list(csv.reader(f))[1:]
        return [r for r in rows if r and int(r[0]) <= resume_step]

    def write(self, step: int, loss: float, lr: float, steps_per_s: float, seconds: float) -> None:
        """One row; ``step`` counts completed steps."""
        self._csv.writerow([step, f"{loss:.6g}", f"{lr:.6g}", f"{steps_per_s:.4g}", f"{seconds:.2f}"])
        self._file.flush()
        if self._tb is not None:
            self._tb.add_scalar("loss", loss, step)
            self._tb.add_scalar("lr", lr, step)
            self._tb.add_scalar("steps_per_s", steps_per_s, step)

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()
