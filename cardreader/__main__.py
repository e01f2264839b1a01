"""``python -m cardreader``: see :mod:`cardreader.cli`."""

from cardreader.cli import main

raise SystemExit(main())
