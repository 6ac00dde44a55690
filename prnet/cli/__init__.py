"""The ``prnet`` command (:mod:`prnet.cli.main`) and its commands: train and val (over
:mod:`prnet.engine.train_loop`), predict, export, benchmark, analyze, browse, convert; each a
module with ``get_parser()`` and ``main(argv)`` that imports torch and Detectron2 only once its
arguments are parsed. The ``tools/*.py`` scripts call the same ``main``; the demo and ablations
live in :mod:`prnet.experiments`."""

__all__: list[str] = []
