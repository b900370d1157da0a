"""`python -m ops`."""

from ops.cli import main

raise SystemExit(main())
