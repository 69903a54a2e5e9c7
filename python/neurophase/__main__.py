"""Allow ``python -m neurophase``."""

import sys

from .cli import main

sys.exit(main())
