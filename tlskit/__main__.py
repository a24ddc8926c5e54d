"""Run the tlskit command line: ``python -m tlskit``."""

import sys

from ._cli import main

sys.exit(main())
