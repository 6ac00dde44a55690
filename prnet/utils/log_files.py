"""Plain ``log.txt``: Detectron2's ``setup_logger`` writes the file with a plain formatter, but
messages can carry terminal colours (the checkpointer's missing/unexpected keys, the config dump
highlighted by ``default_setup``); the file handlers drop them, the console keeps them."""

from __future__ import annotations

import logging
import os
import re

__all__ = ["DropMessages", "PlainTextFormatter", "plain_log_files", "strip_ansi"]

# CSI sequences (colours, bold, cursor moves: ESC [ ... letter) and the two-character ones (ESC x)
_ANSI_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")


def strip_ansi(text: str) -> str:
    return _ANSI_ESCAPE.sub("", text)


class PlainTextFormatter(logging.Formatter):
    """``formatter``'s text without ANSI escape sequences."""

    def __init__(self, formatter: logging.Formatter):
        super().__init__()
        self.inner = formatter

    def format(self, record: logging.LogRecord) -> str:
        return strip_ansi(self.inner.format(record))


def _writes_log_file(handler: logging.Handler) -> bool:
    # setup_logger's file handlers write <output>/log.txt, or log.txt.rank<N> for other processes
    stream = getattr(handler, "stream", None)
    return os.path.basename(str(getattr(stream, "name", ""))).startswith("log.txt")


def plain_log_files(logger_names=("detectron2", "fvcore", "prnet")) -> int:
    """Make the ``log.txt`` handlers of these loggers write plain text (idempotent). Returns how
    many handlers were changed."""
    changed = 0
    for name in logger_names:
        for handler in logging.getLogger(name).handlers:
            if _writes_log_file(handler) and not isinstance(handler.formatter, PlainTextFormatter):
                handler.setFormatter(PlainTextFormatter(handler.formatter or logging.Formatter()))
                changed += 1
    return changed


class DropMessages(logging.Filter):
    """A logger filter dropping the records whose message starts with one of ``prefixes``: for
    a dependency's warning the user cannot act on, silenced by its text, not by its level."""

    def __init__(self, *prefixes: str):
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefixes)
