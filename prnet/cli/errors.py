"""How the command lines end on a problem the user can fix (a config typo, a truncated checkpoint,
bad data, a full disk): the message, which names what and where, without a traceback, exit 1.
``PRNET_TRACEBACK=1`` shows the traceback too.

Importing this module is cheap: the error classes (which live next to torch and Detectron2 code)
are imported when a command fails, not when its ``--help`` is asked for."""

from __future__ import annotations

import functools
import os
import sys

__all__ = ["exits_on_user_error", "user_errors"]


def user_errors() -> tuple[type[BaseException], ...]:
    """Errors whose message says what is wrong and what to do (OSError: files, folders, disk
    space)."""
    from prnet.checkpoint import CheckpointReadError, UnsafeCheckpointError
    from prnet.config import ConfigError
    from prnet.data.check import DataCheckError
    from prnet.data.image_io import ImageReadError
    from prnet.engine.checkpoint import CheckpointMismatchError

    return (
        ConfigError,
        CheckpointReadError,
        CheckpointMismatchError,
        UnsafeCheckpointError,
        DataCheckError,
        ImageReadError,
        OSError,
    )


def _is_user_error(error: Exception) -> bool:
    if isinstance(error, OSError):
        return True
    # the others are defined next to torch code: none can be raised before torch is imported
    return "torch" in sys.modules and isinstance(error, user_errors())


def exits_on_user_error(main):
    """Decorate a command's ``main``: :func:`user_errors` end the program with their message."""

    @functools.wraps(main)
    def wrapped(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except Exception as e:
            if os.environ.get("PRNET_TRACEBACK") or not _is_user_error(e):
                raise
            sys.exit(f"error: {e}")

    return wrapped
