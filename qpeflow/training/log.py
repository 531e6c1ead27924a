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
VAL_COLUMNS = ("step", "val_loss", "best_step")


def _tensorboard(folder: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return None
    return SummaryWriter(str(folder / "tensorboard"))


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[list[str]]) -> None:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(columns)
    writer.writerows(rows)
    write_text(path, buf.getvalue())


def _kept_rows(path: Path, resume_step: int | None) -> list[list[str]]:
    if resume_step is None or not path.is_file():
        return []
    with path.open(newline="") as f:
        rows = list(csv.reader(f))[1:]
    return [r for r in rows if r and int(r[0]) <= resume_step]


class TrainLog:
    """Rows of ``<out>/log.csv`` (training loss) and ``<out>/val.csv`` (validation loss);
    on resume drops rows after the checkpoint's step.

    Args:
        out: the run folder.
        resume_step: keep only rows with step <= resume_step (None: start a new log).
    """

    def __init__(self, out: Path, resume_step: int | None = None) -> None:
        self.path, self.val_path = out / "log.csv", out / "val.csv"
        out.mkdir(parents=True, exist_ok=True)
        self._rows = _kept_rows(self.path, resume_step)
        self._val_rows = _kept_rows(self.val_path, resume_step)
        _write_csv(self.path, COLUMNS, self._rows)
        if self._val_rows:
            _write_csv(self.val_path, VAL_COLUMNS, self._val_rows)
        self._tb = _tensorboard(out)

    def _flush(self) -> None:
        _write_csv(self.path, COLUMNS, self._rows)

    def write_val(self, step: int, val_loss: float, best_step: int) -> None:
        """One validation row."""
        self._val_rows.append([str(step), f"{val_loss:.6g}", str(best_step)])
        _write_csv(self.val_path, VAL_COLUMNS, self._val_rows)
        if self._tb is not None:
            self._tb.add_scalar("val_loss", val_loss, step)

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
