"""``python -m demo``: see :mod:`demo`."""

from .cli import main

raise SystemExit(main())
