"""How the command lines end on a problem the user can fix (a config typo, a truncated checkpoint,
bad data, a full disk): the message, which names what and where, without a traceback, exit 1.
``PRNET_TRACEBACK=1`` shows the traceback too."""

from __future__ import annotations

import functools
import os
import sys

from prnet.checkpoint import CheckpointReadError, UnsafeCheckpointError
from prnet.config import ConfigError
from prnet.data.check import DataCheckError
from prnet.data.image_io import ImageReadError
from prnet.engine.checkpoint import CheckpointMismatchError

__all__ = ["USER_ERRORS", "exits_on_user_error"]

#: Errors whose message says what is wrong and what to do (OSError: files, folders, disk space).
USER_ERRORS = (
    ConfigError,
    CheckpointReadError,
    CheckpointMismatchError,
    UnsafeCheckpointError,
    DataCheckError,
    ImageReadError,
    OSError,
)


def exits_on_user_error(main):
    """Decorate a command's ``main``: :data:`USER_ERRORS` end the program with their message."""

    @functools.wraps(main)
    def wrapped(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except USER_ERRORS as e:
            if os.environ.get("PRNET_TRACEBACK"):
                raise
            sys.exit(f"error: {e}")

    return wrapped
