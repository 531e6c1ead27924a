"""What every bad-input CLI test checks of stderr: one ``qpeflow: error:`` line, no traceback, the things named."""

from __future__ import annotations

import pytest


def one_line_error(capsys: pytest.CaptureFixture[str], *named: object) -> str:
    """The error line (asserting it is the only one, with no traceback, and that it names each of ``named``)."""
    lines = capsys.readouterr().err.strip().splitlines()  # progress bars may come before it
    err = lines[-1] if lines else ""
    assert err.startswith("qpeflow: error: ") and not any("Traceback" in line for line in lines), lines
    assert sum(line.startswith("qpeflow: error: ") for line in lines) == 1, lines
    for thing in named:
        assert str(thing) in err, err
    return err
