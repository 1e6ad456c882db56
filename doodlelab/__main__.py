"""Allow `python -m doodlelab`."""

from doodlelab.cli.main import main

raise SystemExit(main())
