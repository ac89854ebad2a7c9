"""``python -m rulekd``: the command line."""

from .cli import main

raise SystemExit(main())
