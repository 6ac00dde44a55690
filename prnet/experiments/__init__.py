"""Experiments built on the library: ``make demo`` (:mod:`.demo`), the ablation runner
(:mod:`.ablation`) and the optional Ultralytics YOLO11 peer (:mod:`.ultralytics_peer`, which
imports ``ultralytics`` only inside its functions)."""

__all__: list[str] = []
