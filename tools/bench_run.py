"""One timed ``batchface run`` for ``tools/bench.py``, in a process of its own; prints JSON.

    python tools/bench_run.py FOLDER OUT.parquet WORKERS [local|ray] [ferplus|fer2013|fer2013-full]

Seconds count from the call of ``run()`` to its return, so they include starting the workers and
loading the models. With ``ray``, a local Ray of WORKERS CPUs is started first
(``ray_start_seconds``) and the run uses the Ray engine, its actors started and models loaded within
the seconds. ``worker_peak_mb`` is the largest resident size any worker reached. The command's
module is imported first, as the ``batchface`` command does: it sets up the process (its
environment). Only the API of every batchface version is used, so the bench can time an older
checkout (``PYTHONPATH``), but for the expression file by name (``--expression``), given only to
this checkout.
"""

import json
import multiprocessing
import resource
import sys
import time

if __name__ == "__main__":
    import importlib
    import importlib.util

    import batchface.cli  # noqa: F401  first, as the `batchface` command imports it: it sets up the process

    # a checkout from before the layers (--baseline) has its runner at the package's top
    flat = importlib.util.find_spec("batchface.runner") is not None
    runner = importlib.import_module("batchface.runner" if flat else "batchface.engine.runner")
    Options, run = runner.Options, runner.run

    folder, out, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    engine, extra = (sys.argv[4] if len(sys.argv) > 4 else "local"), {}
    options = {"options": Options(expression=sys.argv[5])} if len(sys.argv) > 5 else {}
    if engine == "ray":
        import ray

        start = time.perf_counter()
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        extra = {"engine": "ray", "ray_start_seconds": time.perf_counter() - start}
    start = time.perf_counter()
    summary = run([folder], out, workers=workers, progress=False, **extra and {"engine": "ray"}, **options)
    seconds = time.perf_counter() - start
    for worker in multiprocessing.active_children():  # reaped, so that their peak is counted
        worker.join(30)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # kilobytes on Linux
    print(
        json.dumps(
            {
                "images": summary.images,
                "frames": summary.frames,
                "faces": summary.faces,
                "errors": summary.errors,
                "seconds": seconds,
                "worker_peak_mb": peak,
                **extra,
            }
        )
    )
