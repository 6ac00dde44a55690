#!/usr/bin/env python
"""Train or evaluate a prnet model from a LazyConfig, the Detectron2 way (``prnet train`` and
``prnet val`` run the same): Detectron2's flags and ``launch`` over ``do_train`` / ``do_test`` /
``main`` of ``prnet.engine.train_loop``; the parser and its help are ``prnet.cli.train``
(``python tools/lazyconfig_train_net.py --help``)."""
from prnet.cli.train import main


def invoke_main() -> None:
    main()


if __name__ == "__main__":
    invoke_main()  # pragma: no cover
