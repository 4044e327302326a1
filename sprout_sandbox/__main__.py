"""``python -m sprout_sandbox serve ...``: the same as ``sprout-elt sandbox serve ...``."""

import sys

from pipelines.cli import main

raise SystemExit(main(["sandbox", *sys.argv[1:]]))
