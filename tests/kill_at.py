"""``python tests/kill_at.py WHEN FUNCTION SUFFIX N ARGS...``: the ``batchface`` command with ARGS,
killed by SIGKILL at one step of its work on disk: at the Nth call of ``os.FUNCTION`` (``replace``,
``unlink``, ``rmdir``, ``link``, ``mkdir``: what pathlib and shutil call too) on a path that ends
with SUFFIX, just ``before`` or ``after`` it runs. A real kill of a real process, at an exact point,
with nothing of batchface's own changed; for the steps of writing an output that a kill can split.
Run it with ``--workers 0``: worker processes import this script again.
"""

import os
import runpy
import signal
import sys


def kill_at(when: str, function: str, suffix: str, nth: int) -> None:
    real = getattr(os, function)
    calls = 0

    def step(*args, **kwargs):
        nonlocal calls
        hit = any(isinstance(a, (str, os.PathLike)) and os.fspath(a).endswith(suffix) for a in args[:2])
        calls += hit
        if hit and calls == nth and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = real(*args, **kwargs)
        if hit and calls == nth and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(os, function, step)


if __name__ == "__main__":
    when, function, suffix, nth, *args = sys.argv[1:]
    kill_at(when, function, suffix, int(nth))
    sys.argv = ["batchface", *args]
    runpy.run_module("batchface", run_name="__main__")
