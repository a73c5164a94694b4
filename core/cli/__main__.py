"""``python -m core.cli`` runs the ``guahao`` command."""

import sys

from . import main

sys.exit(main())
