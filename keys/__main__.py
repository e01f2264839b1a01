"""``python -m keys``: see :mod:`keys.cli`."""

from keys.cli import main

raise SystemExit(main())
