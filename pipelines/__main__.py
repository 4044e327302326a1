"""Allow ``python -m pipelines`` as a synonym of ``sprout-elt``."""

from pipelines.cli import main

raise SystemExit(main())
