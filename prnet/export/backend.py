"""The interface every runtime of an exported graph implements (``backend(images) -> dict``)."""
from __future__ import annotations

import torch

__all__ = ["Backend"]


class Backend:
    """Base class: ``meta`` (the sidecar dict), ``output_names``, ``device``, ``__call__``."""

    name = "base"

    def __init__(self, meta: dict, device: str | torch.device = "cpu"):
        self.meta = meta
        self.output_names = tuple(meta["outputs"])
        self.with_nms = bool(meta["with_nms"])
        self.device = torch.device(device)

    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def synchronize(self) -> None:
        """Wait for queued device work (for timing)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(with_nms={self.with_nms}, device={self.device})"
