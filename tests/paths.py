"""Repository paths the tests read (configs/ shipped with the repository)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
