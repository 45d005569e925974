"""`make bench`: speed of `batchface run` beside two references measured in the same run.

    python tests/bench.py PHOTOS_DIR [--repeat 3] [--workers 2] [--detector auto] [--min-face PX]

1. decode only: every file read and decoded, in WORKERS processes;
2. a bare loop of ``Analyzer.analyze`` (decode + detect + both models) in WORKERS processes;
3. ``batchface run`` (the runner: tasks, ordering, writing Parquet) with WORKERS workers.
The photos are repeated REPEAT times under distinct names so that every run sees the same work.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import tempfile
import time
from pathlib import Path

_analyzer = None


def _init(detector, min_face):
    global _analyzer
    import cv2

    from batchface import Analyzer
    cv2.setNumThreads(1)
    _analyzer = Analyzer(detector, threads=1, min_face=min_face) if detector else None


def _decode(path):
    from batchface.inputs import read_image
    return read_image(path).shape[0]


def _analyze(path):
    from batchface.inputs import read_image
    return len(_analyzer.analyze(read_image(path)))


def timed_pool(fn, paths, workers, detector, min_face=None):
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_init, initargs=(detector, min_face)) as pool:
        pool.map(fn, paths[:workers])   # start-up and model loading are not timed
        start = time.perf_counter()
        results = pool.map(fn, paths, chunksize=4)
        return time.perf_counter() - start, results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photos", type=Path)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--detector", default="auto")
    p.add_argument("--min-face", type=int, help="as `batchface run --min-face`")
    p.add_argument("--out", type=Path, default=Path("reports/bench.md"))
    args = p.parse_args(argv)

    from batchface.inputs import walk
    from batchface.runner import Options, run

    originals = [s.path for s in walk([args.photos]) if s.media_type == "image"]
    work = Path(tempfile.mkdtemp(prefix="batchface-bench-"))
    paths = []
    for k in range(args.repeat):
        for i, src in enumerate(originals):
            dst = work / f"r{k}" / f"{i:04d}{Path(src).suffix}"
            dst.parent.mkdir(exist_ok=True)
            os.symlink(os.path.abspath(src), dst)
            paths.append(str(dst))
    n = len(paths)

    t_decode, _ = timed_pool(_decode, paths, args.workers, None)
    t_loop, faces = timed_pool(_analyze, paths, args.workers, args.detector, args.min_face)
    start = time.perf_counter()
    summary = run([work], work / "out.parquet", options=Options(detector=args.detector, min_face=args.min_face), workers=args.workers,
                  progress=False)
    t_run = time.perf_counter() - start   # includes worker start-up and model loading
    shutil.rmtree(work)
    n_faces = sum(faces)
    rows = [("decode only", n / t_decode, None), ("Analyzer.analyze loop", n / t_loop, n_faces / t_loop),
            ("batchface run", n / t_run, summary.faces / t_run)]
    from batchface import Analyzer
    min_face = f" --min-face {args.min_face}" if args.min_face else ""
    lines = [f"# Bench: {len(originals)} photos x {args.repeat} = {n} images, {args.workers} processes, "
             f"detector {args.detector} ({Analyzer(args.detector).detector_name}){min_face}", "", f"Command: `python tests/bench.py {args.photos} --repeat "
             f"{args.repeat} --workers {args.workers} --detector {args.detector}{min_face}` on {os.cpu_count()} CPUs.", "",
             "| what | images/s | faces/s |", "| --- | --- | --- |"]
    lines += [f"| {name} | {ips:.1f} | {'' if fps is None else f'{fps:.1f}'} |" for name, ips, fps in rows]
    lines += ["", f"The runner keeps {t_loop / t_run:.0%} of the bare loop's speed (its time includes starting "
              f"the workers and loading the models; the loop's does not).", ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
