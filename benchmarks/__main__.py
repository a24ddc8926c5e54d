"""Run the benchmark suite: ``python -m benchmarks --help``."""

import sys

from .cli import main

sys.exit(main())
