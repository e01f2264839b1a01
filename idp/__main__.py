"""``python -m idp``: the same as the ``idp`` console script."""

from idp.cli import main

raise SystemExit(main())
