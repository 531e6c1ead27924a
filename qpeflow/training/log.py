"""Training log: a CSV (step, loss, lr, steps_per_s, seconds) and TensorBoard when installed.

The CSV is rewritten whole and atomically (:mod:`qpeflow.io.atomic`) at every row,
so a killed run leaves a complete log of the rows written so far (a few thousand
rows at most: the rewrite costs far less than a training step).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from qpeflow.io.atomic import write_text

COLUMNS = ("step", "loss", "lr", "steps_per_s", "seconds")


def _tensorboard(folder: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return None
    return SummaryWriter(str(folder / "tensorboard"))


class TrainLog:
    """Rows of ``<out>/log.csv``; on resume drops rows after the checkpoint's step.

    Args:
        out: the run folder.
        resume_step: keep only rows with step <= resume_step (None: start a new log).
    """

    def __init__(self, out: Path, resume_step: int | None = None) -> None:
        self.path = out / "log.csv"
        out.mkdir(parents=True, exist_ok=True)
        self._rows = self._kept_rows(resume_step)
        self._flush()
        self._tb = _tensorboard(out)

    def _flush(self) -> None:
        buf = io.StringIO(newline="")
        writer = csv.writer(buf)
        writer.writerow(COLUMNS)
        writer.writerows(self._rows)
        write_text(self.path, buf.getvalue())

    def _kept_rows(self, resume_step: int | None) -> list[list[str]]:
        if resume_step is None or not self.path.is_file():
            return []
        with self.path.open(newline="") as f:
            rows = list(csv.reader(f))[1:]
        return [r for r in rows if r and int(r[0]) <= resume_step]

    def write(self, step: int, loss: float, lr: float, steps_per_s: float, seconds: float) -> None:
        """One row; ``step`` counts completed steps."""
        self._rows.append([str(step), f"{loss:.6g}", f"{lr:.6g}", f"{steps_per_s:.4g}", f"{seconds:.2f}"])
        self._flush()
        if self._tb is not None:
            self._tb.add_scalar("loss", loss, step)
            self._tb.add_scalar("lr", lr, step)
            self._tb.add_scalar("steps_per_s", steps_per_s, step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
