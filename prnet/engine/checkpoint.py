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
import re
import tempfile
import zipfile
from typing import Any

import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.utils import comm

from prnet.checkpoint import METADATA_KEY, model_metadata, read_checkpoint

__all__ = [
    "CheckpointMismatchError",
    "PRNetCheckpointer",
    "atomic_write",
    "first_non_finite",
    "incompatibility_report",
]


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


class CheckpointMismatchError(ValueError):
    """A checkpoint of another architecture or class count where the same one is needed."""


def _is_complete(path: str) -> bool:
    """Whether ``path`` is a whole torch zip checkpoint (every member's CRC checks out)."""
    try:
        with zipfile.ZipFile(path) as z:
            return z.testzip() is None and any(n.endswith("data.pkl") for n in z.namelist())
    except (zipfile.BadZipFile, OSError, EOFError):
        return False


_PERIODIC = re.compile(r"^model_(\d{7})\.pth$")


class PRNetCheckpointer(DetectionCheckpointer):
    """Detectron2's checkpointer with atomic files, a NaN/Inf guard and safe, explained loading.

    Files carry the model's metadata (``model.prnet_meta``, see :mod:`prnet.checkpoint.metadata`)
    under ``prnet_meta``. Crash-proof resumption: ``last_checkpoint`` names the file to resume
    from; when it is missing, empty, garbage or names an incomplete file, the newest complete
    ``model_*.pth`` is used instead (said in the log). Temporary files left by a killed run are
    removed when the checkpointer is created. ``tags_last_checkpoint=False`` (the best-checkpoint
    writer) saves without moving the pointer, so a resume never starts from ``model_best.pth``.
    Resuming with a checkpoint of another model raises :class:`CheckpointMismatchError` before
    any state is loaded.
    """

    def __init__(self, model, save_dir: str = "", *, save_to_disk=None, **checkpointables):
        super().__init__(model, save_dir, save_to_disk=save_to_disk, **checkpointables)
        self.tags_last_checkpoint = True
        self._resuming = False
        if self.save_dir and self.save_to_disk and comm.is_main_process():
            self._remove_stale_temporaries()  # (other processes never write)

    def _remove_stale_temporaries(self) -> None:
        if not os.path.isdir(self.save_dir):
            return
        stale = [n for n in os.listdir(self.save_dir) if n.startswith(".") and n.endswith(".tmp")]
        for name in stale:
            os.remove(os.path.join(self.save_dir, name))
        if stale:
            self.logger.info(f"Removed {len(stale)} temporary file(s) left by an interrupted run.")

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
        meta = model_metadata(self.model)  # class names, config, test size: a self-describing file
        if meta:
            data[METADATA_KEY] = meta
        data.update(kwargs)

        basename = f"{name}.pth"
        save_file = os.path.join(self.save_dir, basename)
        self.logger.info(f"Saving checkpoint to {save_file}")
        try:
            os.makedirs(self.save_dir, exist_ok=True)
            atomic_write(save_file, lambda f: torch.save(data, f))
            if self.tags_last_checkpoint:
                self.tag_last_checkpoint(basename)
        except OSError as e:
            previous = self.get_checkpoint_file() or "none yet"
            raise OSError(
                e.errno,
                f"Could not write checkpoint {save_file}: {e.strerror or e}. Nothing was "
                f"overwritten (last complete checkpoint: {previous}). Free space, or choose "
                "another train.output_dir, and run again with --resume.",
            ) from e

    def tag_last_checkpoint(self, last_filename_basename: str) -> None:
        path = os.path.join(self.save_dir, "last_checkpoint")
        atomic_write(path, lambda f: f.write(last_filename_basename.encode()))

    def _pointed_file(self) -> str:
        try:
            with open(os.path.join(self.save_dir, "last_checkpoint"), "rb") as f:
                name = f.read().decode("utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return ""
        if not name or "/" in name or "\x00" in name:
            return ""
        return os.path.join(self.save_dir, name)

    def get_checkpoint_file(self) -> str:
        """The checkpoint to resume from: ``last_checkpoint``'s file if it is complete, else the
        newest complete ``model_final.pth`` / ``model_XXXXXXX.pth`` ("" if there is none)."""
        if not self.save_dir or not os.path.isdir(self.save_dir):
            return ""
        pointed = self._pointed_file()
        if pointed and _is_complete(pointed):
            return pointed
        names = [n for n in os.listdir(self.save_dir) if _PERIODIC.match(n)]
        names += ["model_final.pth"] if os.path.isfile(self._path("model_final.pth")) else []
        names.sort(key=lambda n: (n == "model_final.pth", n), reverse=True)
        why = f"names {pointed}, which is incomplete" if pointed else "is missing or unreadable"
        for name in names:
            if _is_complete(self._path(name)):
                self.logger.warning(
                    f"last_checkpoint {why}; resuming from {self._path(name)}, the newest "
                    "complete checkpoint."
                )
                return self._path(name)
        return ""

    def _path(self, name: str) -> str:
        return os.path.join(self.save_dir, name)

    def has_checkpoint(self) -> bool:
        return bool(self.get_checkpoint_file())

    def resume_or_load(self, path: str, *, resume: bool = True):
        self._resuming = resume and self.has_checkpoint()
        try:
            return super().resume_or_load(path, resume=resume)
        finally:
            self._resuming = False

    def _load_file(self, filename: str):
        # prnet.checkpoint's reader: tensors only, and Ultralytics files converted to the model
        return read_checkpoint(filename, self.model)

    def _load_model(self, checkpoint):
        incompatible = super()._load_model(checkpoint)
        self.last_incompatible = incompatible
        if self._resuming and incompatibility_report(incompatible):
            raise CheckpointMismatchError(
                "--resume: the checkpoint was written by another model than this config builds "
                "(changed model.* settings or class count?):\n"
                + incompatibility_report(incompatible)
                + "\nResume with the config the run was started with; to start a new run from "
                "these weights, use train.init_checkpoint=<file> without --resume."
            )
        return incompatible

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
