"""`python -m ops`."""

from ops.cli.app import main

raise SystemExit(main())
