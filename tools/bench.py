"""`make bench`: the speed of `batchface run` beside references and a peer, measured in one run.

    python tools/bench.py --photos DIR [--frames DIR] [--peer-python PY] [--baseline DIR] [--out FILE]

For each folder (``--photos``: multi-face photos, repeated ``--repeat`` times under distinct names;
``--frames``: small video frames, one face each):

1. decode only: every file read and decoded, in WORKERS processes;
2. a bare loop of ``Analyzer.analyze`` (decode, detect, both models) in WORKERS processes;
3. ``batchface run`` with WORKERS workers, its default settings, timed from the call to the
   finished table (starting the workers and loading the models included; the models' optimized
   copies kept, as for a user's runs, in a cache folder of the bench's own), then the same with
   ``--expression fer2013`` (the FER2013-trained file, the default until FER+);
4. ``--baseline DIR``: the same with the batchface of another checkout (an older commit); the rows
   of 3 and 4 are each timed ``--runs`` times, in turn, and their median run reported;
5. the peer ``fer`` in one process, as its users run it (``tools/peer_fer.py``), when ``--peer-python``
   is an environment with fer (``make bench`` makes one); skipped, with a note, otherwise;
6. milliseconds an image in each stage, in one process on one thread, the last rows with
   ``--expression fer2013`` and ``fer2013-full``.

The machine's speed drifts; ratios of rows measured minutes apart in one run are what to compare.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
_analyzer = None


def _init(load_models: bool):
    global _analyzer
    import cv2

    from batchface import Analyzer

    cv2.setNumThreads(1)
    _analyzer = Analyzer(threads=1) if load_models else None


def _decode(path):
    from batchface.media.decoding import read_image

    return read_image(path).shape[0]


def _analyze(path):
    from batchface.media.decoding import read_picture

    return len(_analyzer.analyze_pictures([read_picture(path, _analyzer.detector.side_needed)])[0])


def timed_pool(fn, paths, workers, load_models):
    """Seconds for ``fn`` over ``paths`` in a pool (start-up and model loading not timed), and its results."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_init, initargs=(load_models,)) as pool:
        pool.map(fn, paths[:workers])
        start = time.perf_counter()
        results = pool.map(fn, paths, chunksize=4)
        return time.perf_counter() - start, results


def timed_run(
    folder: Path, workers: int, code_dir: Path | None = None, engine: str = "local", expression: str | None = None
) -> dict:
    """``tools/bench_run.py`` in a process of its own, with the batchface of ``code_dir`` if given;
    ``expression``: the shipped expression file by name (default: the run's default)."""
    env = dict(os.environ)
    if code_dir:
        env["PYTHONPATH"] = str(code_dir)
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [sys.executable, str(HERE / "bench_run.py"), str(folder), f"{tmp}/out.parquet", str(workers), engine]
            + ([expression] if expression else []),
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def peer(paths: list[str], python: str | None) -> dict | str:
    """fer's figures, or why they are missing."""
    if not python or not Path(python).exists():
        return "skipped: no peer environment (`make bench` makes .venv-peer with tools/peer-requirements.txt)"
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as listing:
        listing.write("\n".join(paths))
        listing.flush()
        done = subprocess.run([python, str(HERE / "peer_fer.py"), listing.name], capture_output=True, text=True)
    if done.returncode:
        why = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode
        return f"skipped: the peer failed ({why})"
    return json.loads(done.stdout.strip().splitlines()[-1])


def stages(paths: list[str], **models) -> dict:
    """Milliseconds an image in each stage, one process and one thread, images in batches as the
    runner's tasks (:data:`batchface.engine.plan.IMAGES_PER_TASK`); ``models``: the ``Analyzer``'s arguments
    (default: the shipped models)."""
    import cv2

    from batchface import Analyzer
    from batchface.engine.plan import IMAGES_PER_TASK as batch
    from batchface.media.decoding import read_picture

    cv2.setNumThreads(1)
    analyzer = Analyzer(threads=1, **models)
    side_needed = analyzer.detector.side_needed
    analyzer.analyze_pictures([read_picture(paths[0], side_needed)])
    spent = dict.fromkeys(("decode", "detect", "crops", "keypoint model", "expression model", "faces' fields"), 0.0)
    faces = 0
    clock = time.perf_counter
    for i in range(0, len(paths), batch):
        t = clock()
        pictures = [read_picture(p, side_needed) for p in paths[i : i + batch]]
        spent["decode"] += clock() - t
        t = clock()
        detections = [analyzer.detect(p.image).scaled(*p.scale) for p in pictures]
        spent["detect"] += clock() - t
        t = clock()  # as Analyzer.analyze_pictures does
        pictures = [
            p.full() if p.reduced and not analyzer.large_enough(d, min(p.scale)) else p
            for p, d in zip(pictures, detections)
        ]
        spent["decode"] += clock() - t
        t = clock()
        kp_crops, kp_maps, ex_crops = analyzer.cut([p.image for p in pictures], detections, [p.scale for p in pictures])
        spent["crops"] += clock() - t
        t = clock()
        points = analyzer.keypoints.predict(kp_crops)
        spent["keypoint model"] += clock() - t
        t = clock()
        probs = analyzer.expression.predict(ex_crops)
        spent["expression model"] += clock() - t
        t = clock()
        sizes = [(p.image.shape[1] * p.scale[0], p.image.shape[0] * p.scale[1]) for p in pictures]
        analyzer.assemble(detections, points, kp_maps, probs, sizes)
        spent["faces' fields"] += clock() - t
        faces += len(kp_crops)
    return {
        "ms": {k: 1000 * v / len(paths) for k, v in spent.items()},
        "faces": faces,
        "images": len(paths),
        "ms_per_face": {k: 1000 * spent[k] / max(faces, 1) for k in ("keypoint model", "expression model")},
    }


def median_run(runs: list[dict], unit: str = "images") -> dict:
    """The run of median seconds among ``runs`` (``timed_run``'s), with ``spread``: the ``unit``
    (images or frames) a second of the slowest and the fastest, as text."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    slowest, fastest = (r[unit] / r["seconds"] for r in (ordered[-1], ordered[0]))
    return {**ordered[len(ordered) // 2], "spread": f"{slowest:.1f}-{fastest:.1f}/s"}


def copies(originals: list[str], repeat: int, into: Path) -> list[str]:
    """Copies of ``originals`` under distinct names, ``repeat`` times over: files of their own, since a
    run analyses each real file once (links to one file are that file again)."""
    paths = []
    for k in range(repeat):
        (into / f"r{k}").mkdir(parents=True)
        for i, src in enumerate(originals):
            dst = into / f"r{k}" / f"{i:04d}{Path(src).suffix}"
            shutil.copyfile(src, dst)
            paths.append(str(dst))
    return paths


def bench_folder(name: str, originals: list[str], repeat: int, args) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="batchface-bench-") as tmp:
        folder = Path(tmp) / "in"
        paths = copies(originals, repeat, folder)
        n = len(paths)
        t_decode, _ = timed_pool(_decode, paths, args.workers, False)
        t_loop, found = timed_pool(_analyze, paths, args.workers, True)
        # each `batchface run` row timed --runs times, the rows in turn, so that a slow minute of this
        # machine falls on all of them; the median run is reported, the range beside it
        kinds = {"ours": {}, "fer2013": {"expression": "fer2013"}} | (
            {"old": {"code_dir": args.baseline}} if args.baseline else {}
        )
        timed = {kind: [] for kind in kinds}
        for _ in range(args.runs):
            for kind, how in kinds.items():
                timed[kind].append(timed_run(folder, args.workers, **how))
        ours, fer2013 = median_run(timed["ours"]), median_run(timed["fer2013"])
        old = median_run(timed["old"]) if args.baseline else None
        # the Ray engine, when the extra is installed, on the photos (one Ray task an image)
        on_ray = [(c, timed_run(folder, c, engine="ray")) for c in (1, args.workers)] if args.ray and n < 500 else []
        fer = peer(paths, args.peer_python)
    faces = sum(found)
    run_ips = ours["images"] / ours["seconds"]
    rows = [
        ("decode only", f"{args.workers} processes", n / t_decode, None, None),
        ("`Analyzer.analyze` loop", f"{args.workers} processes", n / t_loop, faces / t_loop, None),
    ]
    runs = [("**`batchface run`**", ours), ("`batchface run --expression fer2013`", fer2013)]
    runs += [(f"`batchface run` at {args.baseline_name}", old)] if old else []
    for what, timed_median in runs:
        rows.append(
            (
                what + f" (median of {args.runs} runs: {timed_median['spread']})" if args.runs > 1 else what,
                f"{args.workers} workers",
                timed_median["images"] / timed_median["seconds"],
                timed_median["faces"] / timed_median["seconds"],
                timed_median["worker_peak_mb"],
            )
        )
    for cpus, timed in on_ray:
        rows.append(
            (
                f"`batchface run --engine ray` (Ray started in {timed['ray_start_seconds']:.1f} s, not counted)",
                f"{cpus} CPU{'s' if cpus > 1 else ''}, as many actors",
                timed["images"] / timed["seconds"],
                timed["faces"] / timed["seconds"],
                None,
            )
        )
    if isinstance(fer, dict):
        rows.append(
            (fer["name"], "1 process", fer["images"] / fer["seconds"], fer["faces"] / fer["seconds"], fer["peak_mb"])
        )
    lines = [
        f"## {name}: {len(originals)} files" + (f" x {repeat} = {n} images" if repeat > 1 else ""),
        "",
        "| what | processes | images/s | faces/s | peak MB a process | `batchface run` is |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for what, procs, ips, fps, mb in rows:
        lines.append(
            f"| {what} | {procs} | {ips:.1f} | {'' if fps is None else f'{fps:.1f}'} | "
            f"{'' if mb is None else f'{mb:.0f}'} | {run_ips / ips:.2f}x |"
        )
    if not isinstance(fer, dict):
        lines += ["", f"Peer: {fer}."]
    from batchface.faces.models import EXPRESSION_FILES

    steps = [("the shipped models", {})]
    if args.baseline:  # the models of the baseline, then this checkout's, one change at a time
        old_kp, old_ex = (args.baseline / "batchface" / "assets" / f"{m}.onnx" for m in ("keypoints", "expression"))
        steps = [
            (
                f"{args.baseline_name}'s models, BlazeFace",
                {"detector": "blazeface", "keypoint_model": old_kp, "expression_model": old_ex},
            ),
            ("+ YuNet checked by BlazeFace", {"keypoint_model": old_kp, "expression_model": old_ex}),
            ("+ this checkout's expression model", {"keypoint_model": old_kp}),
            ("+ this checkout's keypoint model (all shipped now)", {}),
        ]
    steps.append(("`--expression fer2013`", {"expression_model": EXPRESSION_FILES["fer2013"]}))
    steps.append(("`--expression fer2013-full`", {"expression_model": EXPRESSION_FILES["fer2013-full"]}))
    lines += [
        "",
        f"Stages, one process on one thread, in milliseconds an image ({len(originals)} images); models per face:",
        "",
        "| models | decode | detect | crops | keypoint model | expression model | faces' fields | total "
        "| images/s | faces | keypoint ms a face | expression ms a face |",
        "|" + " --- |" * 12,
    ]
    for label, models in steps:
        stage = stages(originals, **models)
        ms = stage["ms"]
        lines.append(
            f"| {label} | " + " | ".join(f"{v:.2f}" for v in ms.values()) + f" | {sum(ms.values()):.2f} | "
            f"{1000 / sum(ms.values()):.1f} | {stage['faces']} | "
            + " | ".join(f"{v:.2f}" for v in stage["ms_per_face"].values())
            + " |"
        )
    return lines + [""]


def long_video(clip: Path, repeat: int, into: Path) -> Path:
    """``clip`` ``repeat`` times over, one video (H.264 ``veryfast`` CRF 23 in MP4, at its rate)."""
    import av

    path = into / f"{clip.stem}_x{repeat}.mp4"
    with av.open(str(clip)) as source, av.open(str(path), "w") as out:
        video = source.streams.video[0]
        stream = out.add_stream("libx264", rate=video.average_rate, options={"preset": "veryfast", "crf": "23"})
        stream.width, stream.height, stream.pix_fmt = video.width, video.height, "yuv420p"
        frames = [frame.to_ndarray(format="yuv420p") for frame in source.decode(video)]
        for _ in range(repeat):
            for image in frames:
                out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="yuv420p")))
        out.mux(stream.encode())
    return path


def bench_video(clip: Path, repeat: int, args) -> list[str]:
    """``batchface run`` on one long video (``clip`` ``repeat`` times over): frames/s, beside the
    baseline's, the runs in turn (the median of ``--runs``)."""
    with tempfile.TemporaryDirectory(prefix="batchface-bench-") as tmp:
        video = long_video(clip, repeat, Path(tmp))
        kinds = {"ours": {}} | ({"old": {"code_dir": args.baseline}} if args.baseline else {})
        timed = {kind: [] for kind in kinds}
        for _ in range(args.runs):
            for kind, how in kinds.items():
                timed[kind].append(timed_run(video, args.workers, **how))
    lines = [
        f"## One long video: `{clip.name}` {repeat} times over",
        "",
        "| what | processes | frames/s | faces/s |",
        "| --- | --- | --- | --- |",
    ]
    for kind, what in (("ours", "**`batchface run`**"), ("old", f"`batchface run` at {args.baseline_name}")):
        if kind in timed:
            median = median_run(timed[kind], "frames")
            spread = f" (median of {args.runs} runs: {median['spread']})" if args.runs > 1 else ""
            lines.append(
                f"| {what}{spread} | {args.workers} workers | {median['frames'] / median['seconds']:.1f} | "
                f"{median['faces'] / median['seconds']:.1f} |"
            )
    return lines + [""]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--photos", type=Path, required=True, help="a folder of photos (walked)")
    p.add_argument("--frames", type=Path, help="a folder of small video frames")
    p.add_argument("--video", type=Path, help="a video clip, run as one long video (--video-repeat times over)")
    p.add_argument("--video-repeat", type=int, default=6)
    p.add_argument("--repeat", type=int, default=5, help="how many times the photos are run")
    p.add_argument("--runs", type=int, default=3, help="how many times each `batchface run` row is timed (the median)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--peer-python", help="the python of an environment with fer")
    p.add_argument("--baseline", type=Path, help="a checkout of another batchface to time beside this one")
    p.add_argument("--out", type=Path, default=Path("reports/bench.md"))
    p.add_argument(
        "--no-ray", dest="ray", action="store_false", help="leave out the Ray engine (timed when Ray is installed)"
    )
    args = p.parse_args(argv)
    # the models as onnxruntime optimized them, kept for the bench's runs as for a user's (made at the
    # first): a folder of the bench's own, where an older batchface finds no fetched detector either
    cache = tempfile.TemporaryDirectory(prefix="batchface-bench-cache-")
    os.environ["BATCHFACE_CACHE"] = cache.name
    args.ray = args.ray and importlib.util.find_spec("ray") is not None
    args.baseline_name = (
        subprocess.run(
            ["git", "-C", str(args.baseline), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        or str(args.baseline)
        if args.baseline
        else None
    )

    from batchface.media.inputs import walk

    lines = [
        f"# Bench, {datetime.date.today().isoformat()}",
        "",
        f"`python tools/bench.py {' '.join(argv if argv is not None else sys.argv[1:])}` on {os.cpu_count()} CPUs. "
        "Each table's rows were measured one after the other in one run; compare ratios within a table.",
        "",
    ]
    photos = [s.path for s in walk([args.photos]) if s.media_type == "image"]
    lines += bench_folder(f"Photos (`{args.photos}`)", photos, args.repeat, args)
    if args.frames:
        if args.frames.is_dir():
            frames = [s.path for s in walk([args.frames]) if s.media_type == "image"]
            lines += bench_folder(f"Video frames (`{args.frames}`)", frames, 1, args)
        else:
            lines += [f"Video frames: skipped, {args.frames} is not here.", ""]
    if args.video:
        if args.video.is_file():
            lines += bench_video(args.video, args.video_repeat, args)
        else:
            lines += [f"Long video: skipped, {args.video} is not here.", ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
