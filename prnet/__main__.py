"""``python -m prnet``: the ``prnet`` command (:mod:`prnet.cli.main`)."""
import sys

from prnet.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
