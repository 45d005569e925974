"""The ``batchface`` command's entry point, and ``python -m batchface``.

Apart from :mod:`batchface.cli`, and without its imports: multiprocessing starts each worker of a
run by importing the script that was run (the command's imports this module), and a worker needs
none of the command line's modules (typer alone is about 0.05 s of CPU a worker).
"""


def entry() -> None:
    """Run the ``batchface`` command on this process's arguments (the console script's entry point)."""
    from batchface.cli import app

    app(prog_name="batchface")


if __name__ == "__main__":
    entry()
