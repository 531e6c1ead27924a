"""Two CPU processes under torchrun (gloo backend) train a few DDP steps through the CLI."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import torch

from qpeflow.checkpoint import load_checkpoint
from tests.paths import CONFIGS
from tests.writers.store import make_tiny_store, tiny_overrides

CONFIGS = CONFIGS


def test_two_process_gloo_ddp_trains(tmp_path: Path) -> None:
    store = make_tiny_store(tmp_path / "s.zarr", n=16, size=16)
    entry = tmp_path / "qpeflow_entry.py"
    entry.write_text("import sys\nfrom qpeflow.cli import main\nsys.exit(main())\n")
    sets = [a for o in tiny_overrides(store, tmp_path / "run", 3) for a in ("--set", o)]
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(entry),
        "train",
        "--config",
        str(CONFIGS / "cfm.yaml"),
        *sets,
        "--set",
        "train.batch_size=2",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "cpu x2" in proc.stderr + proc.stdout  # both processes joined one gloo group
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert ckpt["step"] == 3
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values() if v.is_floating_point())
    with (tmp_path / "run" / "log.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [1, 2, 3]  # only rank 0 writes
    assert not any(n.endswith(".tmp") for n in os.listdir(tmp_path / "run"))
