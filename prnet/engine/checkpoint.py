"""A ``DetectionCheckpointer`` that never leaves a half-written or poisoned checkpoint behind.

Detectron2 (through fvcore) ``torch.save``s straight to ``model_XXXXXXX.pth`` and then rewrites
``last_checkpoint``; a crash or ``SIGKILL`` in between leaves a truncated file that ``--resume``
picks up. :class:`PRNetCheckpointer` writes every file to a temporary name in the same folder,
``fsync``s it and ``os.replace``s it into place (atomic on POSIX), checkpoint first, pointer
second, so ``last_checkpoint`` only ever names a complete file. It refuses to save non-finite
weights, reads files with :func:`prnet.checkpoint.read_checkpoint` (tensors only; an Ultralytics
``.pt`` converted to the model's names) and reports what did not match by name.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import torch
from detectron2.checkpoint import DetectionCheckpointer

from prnet.checkpoint import read_checkpoint

__all__ = ["PRNetCheckpointer", "atomic_write", "first_non_finite", "incompatibility_report"]


def atomic_write(path: str, write) -> None:
    """Call ``write(f)`` on a temporary binary file next to ``path``, then make it ``path``.

    Readers see either the old file or the complete new one, never a partial write.
    """
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(dir_fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(dir_fd)


def first_non_finite(state_dict) -> str | None:
    """Name of the first floating-point tensor in ``state_dict`` holding NaN or Inf, else None."""
    for name, value in state_dict.items():
        if torch.is_tensor(value) and value.is_floating_point():
            if not bool(torch.isfinite(value).all()):
                return name
    return None


class PRNetCheckpointer(DetectionCheckpointer):
    """Detectron2's checkpointer with atomic files, a NaN/Inf guard and safe, explained loading."""

    def save(self, name: str, **kwargs: Any) -> None:
        if not self.save_dir or not self.save_to_disk:
            return
        data = {"model": self.model.state_dict()}
        bad = first_non_finite(data["model"])
        if bad is not None:
            raise FloatingPointError(
                f"Refusing to save checkpoint {name!r}: model parameter {bad!r} holds NaN or Inf "
                "values. The last good checkpoint is kept; lower the learning rate or use "
                "train.nan_policy='skip'."
            )
        for key, obj in self.checkpointables.items():
            data[key] = obj.state_dict()
        data.update(kwargs)

        basename = f"{name}.pth"
        save_file = os.path.join(self.save_dir, basename)
        self.logger.info(f"Saving checkpoint to {save_file}")
        atomic_write(save_file, lambda f: torch.save(data, f))
        self.tag_last_checkpoint(basename)

    def tag_last_checkpoint(self, last_filename_basename: str) -> None:
        path = os.path.join(self.save_dir, "last_checkpoint")
        atomic_write(path, lambda f: f.write(last_filename_basename.encode()))

    def _load_file(self, filename: str):
        # prnet.checkpoint's reader: tensors only, and Ultralytics files converted to the model
        return read_checkpoint(filename, self.model)

    def _log_incompatible_keys(self, incompatible) -> None:
        super()._log_incompatible_keys(incompatible)
        report = incompatibility_report(incompatible)
        if report:
            self.logger.warning(report)


def incompatibility_report(incompatible, limit: int = 10) -> str:
    """One readable paragraph: how many keys were missing, unexpected or mis-shaped, with examples
    (a checkpoint of another architecture or class count). Empty when everything matched."""

    def _some(items):
        items = list(items)
        more = f", ... (+{len(items) - limit} more)" if len(items) > limit else ""
        return ", ".join(str(x) for x in items[:limit]) + more

    lines = []
    # fvcore drops mis-shaped keys before loading, so torch also lists them as missing
    reshaped = {k for k, _, _ in incompatible.incorrect_shapes}
    missing = [k for k in incompatible.missing_keys if k not in reshaped]
    if missing:
        lines.append(
            f"  missing in the checkpoint ({len(missing)}, left at initialisation): "
            f"{_some(missing)}"
        )
    if incompatible.unexpected_keys:
        lines.append(
            f"  unexpected, not in the model ({len(incompatible.unexpected_keys)}, ignored): "
            f"{_some(incompatible.unexpected_keys)}"
        )
    if incompatible.incorrect_shapes:
        shapes = (f"{k} {tuple(a)} in file vs {tuple(b)} in model (left at initialisation)"
                  for k, a, b in incompatible.incorrect_shapes)
        lines.append(
            f"  shape mismatch ({len(incompatible.incorrect_shapes)}, skipped): {_some(shapes)}"
        )
    if not lines:
        return ""
    return "Checkpoint does not match the model (another architecture or class count?):\n" + (
        "\n".join(lines)
    )
