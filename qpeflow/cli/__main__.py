"""``python -m qpeflow.cli ...``: the same as the ``qpeflow`` command."""

import sys

from qpeflow.cli import main

sys.exit(main())
