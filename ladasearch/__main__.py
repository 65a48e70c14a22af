"""``python -m ladasearch``."""

import sys

from ladasearch.cli import main

sys.exit(main())
