"""Errors that stay one input's problem, how they are told in one line of a row, and how a run that
is stopped says so."""

from __future__ import annotations


class InputError(Exception):
    """An input that cannot be read; the message is one line that says why."""


def one_line(error: BaseException, with_type: bool = True) -> str:
    """The last line of an error's message (libraries put the gist there), after its type's name."""
    lines = str(error).strip().splitlines()
    text = lines[-1].strip() if lines else ""
    if not with_type:
        return text or type(error).__name__
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class Terminated(BaseException):
    """SIGTERM (a batch scheduler, ``timeout``) where the command line is, as Ctrl-C raises
    KeyboardInterrupt."""


class Interrupted(BaseException):
    """A run stopped by Ctrl-C (KeyboardInterrupt) or SIGTERM (:class:`Terminated`), the one as
    ``__cause__``, once its workers have stopped and what it committed is durable: ``summary``
    (:class:`batchface.engine.summary.Summary`) says how far it got; ``resume=True`` finishes it."""

    def __init__(self, summary):
        super().__init__("the run was stopped: resume=True (--resume) finishes it")
        self.summary = summary


def printable(text: str) -> str:
    """``text`` (a path, a reason) for a terminal: each character that is not printable written as
    Python writes it in a string (``\\x1b``, ``\\n``, ``\\udce9`` for a byte of a name that is not
    UTF-8), so that a file name cannot move the cursor, retitle the window or hide a line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
