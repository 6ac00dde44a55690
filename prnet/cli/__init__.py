"""The command lines of prnet's tools (``tools/*.py`` call ``main`` of these modules): predict,
export, benchmark, analyze and convert. Training keeps Detectron2's
``tools/lazyconfig_train_net.py`` over :mod:`prnet.engine.train_loop`; the demo and ablations
live in :mod:`prnet.experiments`."""

__all__: list[str] = []
