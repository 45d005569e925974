"""Errors that stay one input's problem, how they are told in one line of a row, and how a run that
is stopped says so."""

from __future__ import annotations

from typing import Protocol


class InputError(Exception):
    """An input that cannot be read; the message is one line that says why."""


def one_line(error: BaseException, with_type: bool = True) -> str:
    """An error in one line, for a row or the terminal.

    Args:
        error: the exception.
        with_type: begin with the name of its type.

    Returns:
        The last line of its message (libraries put the gist there), after its type's name; the name
        alone where the message is empty.
    """
    lines = str(error).strip().splitlines()
    text = lines[-1].strip() if lines else ""
    if not with_type:
        return text or type(error).__name__
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class Terminated(BaseException):
    """SIGTERM (a batch scheduler, ``timeout``) where the command line is, as Ctrl-C raises
    KeyboardInterrupt."""


class RunSummary(Protocol):
    """What a run did (:class:`batchface.engine.summary.Summary`, a layer above), as far as it is told here."""

    def line(self) -> str:
        """The summary in one line.

        Returns:
            The line the command ends with.
        """
        ...


class Interrupted(BaseException):
    """A run stopped by Ctrl-C (KeyboardInterrupt) or SIGTERM (:class:`Terminated`), the one as
    ``__cause__``, once its workers have stopped and what it committed is durable; ``resume=True``
    finishes it.

    Args:
        summary: how far it got (:class:`batchface.engine.summary.Summary`).
    """

    def __init__(self, summary: RunSummary):
        super().__init__("the run was stopped: resume=True (--resume) finishes it")
        self.summary = summary


def printable(text: str) -> str:
    r"""Text (a path, a reason) made safe for a terminal.

    Args:
        text: what to show.

    Returns:
        ``text``, each character that is not printable written as Python writes it in a string
        (``\x1b``, ``\n``, ``\udce9`` for a byte of a name that is not UTF-8), so that a file name
        cannot move the cursor, retitle the window or hide a line.
    """
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
