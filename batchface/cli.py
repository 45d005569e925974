"""The ``batchface`` command. It parses and forwards: the work is in :mod:`batchface.engine.runner`."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from types import FrameType
from typing import NoReturn

import typer

from batchface import __version__
from batchface.engine.pool import ONE_BLAS_THREAD

# before numpy is imported: this process, and the workers that inherit its environment
os.environ.update({k: v for k, v in ONE_BLAS_THREAD.items() if k not in os.environ})

# the choices --help lists (batchface.vocabulary); the library checks them too, for a Python caller
from batchface.vocabulary import Detector, Engine, Expression, Format  # noqa: E402

# the help texts of `run` that take more than a line
OUT_HELP = (
    "Output table: .parquet (.pq), .csv or .jsonl (.ndjson); a folder (ending in /) for a Parquet dataset; "
    "- for standard output."
)
DETECT_EVERY_HELP = (
    "Video: run the detector on the whole frame every Kth sampled frame (default 2), and in between look "
    "only around the faces of the previous one, again on the whole frame at a cut or when a face is lost; "
    "1 = every frame."
)
DETECTOR_HELP = (
    "yunet (default): YuNet, with BlazeFace confirming the large frontal faces it is "
    "unsure of; blazeface: BlazeFace alone, on image tiles."
)
EXPRESSION_HELP = (
    "ferplus (default): trained on FER+'s ten votes a face, reads calm faces as neutral; fer2013: trained "
    "on FER2013's own labels, for comparison with FER2013-trained tools; fer2013-full: the same, slower "
    "(README, Models)."
)
MIN_FACE_HELP = (
    "Look only for faces at least this many pixels wide (box width; narrower ones are left out). "
    "Default: YuNet finds faces from about 24 px, or 1/40 of the image's longer side; a larger value is faster, "
    "a smaller one finds smaller faces in large images, slower."
)
ANNOTATE_HELP = (
    "Write annotated copies here, mirroring the input paths; never over an input (a folder holding one is "
    "refused) nor through a symbolic link."
)
ENGINE_HELP = (
    "local (default): worker processes on this machine; ray: actors on a Ray cluster "
    "(the ray extra: pip install '.[ray]' in batchface's checkout), the output written here."
)
ADDRESS_HELP = (
    "With --engine ray: the cluster, as ray.init takes it (default: RAY_ADDRESS, else a Ray of this "
    "machine, started for the run)."
)
TIMEOUT_HELP = (
    "Stop a worker's task (up to 16 images, or 1,500 frames of video) after this many seconds, and try its "
    "inputs one by one: an input that hangs gets an error row and the run goes on."
)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
    help="Faces, facial keypoints and expressions for folders of photos and videos.",
)


def _raise_terminated(signum: int, frame: FrameType | None) -> NoReturn:
    from batchface.errors import Terminated

    raise Terminated()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"batchface {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """The command's options, before its subcommand's (typer's callback)."""


@app.command()
def run(
    paths: list[Path] = typer.Argument(None, help="Image or video files, or folders (walked recursively)."),
    out: str = typer.Option(..., "--out", "-o", help=OUT_HELP),
    fmt: Format | None = typer.Option(None, "--format", help="Default: from --out's extension."),
    files_from: str | None = typer.Option(
        None, "--files-from", help="Read more paths from this file, one a line ('-' = stdin)."
    ),
    every: int = typer.Option(1, "--every", min=1, help="Video: keep every Nth frame."),
    fps: float | None = typer.Option(
        None, "--fps", min=0.0001, help="Video: sample this many frames per second of video time (instead of --every)."
    ),
    max_frames: int | None = typer.Option(
        None, "--max-frames", min=1, help="Video: stop after this many sampled frames."
    ),
    detect_every: int | None = typer.Option(None, "--detect-every", min=1, help=DETECT_EVERY_HELP),
    detector: Detector = typer.Option(Detector.yunet, "--detector", help=DETECTOR_HELP),
    detector_model: Path | None = typer.Option(
        None,
        "--detector-model",
        help="The detector's model file, made by export/yunet.py or export/blazeface.py (default: the shipped one).",
    ),
    expression: Expression = typer.Option(Expression.ferplus, "--expression", help=EXPRESSION_HELP),
    min_face: int | None = typer.Option(None, "--min-face", min=1, help=MIN_FACE_HELP),
    landmarks: bool = typer.Option(
        False, "--landmarks", help="Add every point of the keypoint model (lm_<name>_x/_y columns)."
    ),
    annotate: Path | None = typer.Option(None, "--annotate", help=ANNOTATE_HELP),
    workers: int | None = typer.Option(
        None,
        "--workers",
        "-w",
        min=0,
        help="Worker processes (default: number of CPUs; 0 = in this process; at most 4 per CPU).",
    ),
    engine: Engine = typer.Option(Engine.local, "--engine", help=ENGINE_HELP),
    address: str | None = typer.Option(None, "--address", help=ADDRESS_HELP),
    resume: bool = typer.Option(
        False, "--resume", help="Finish an interrupted run with the same --out, without duplicates."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out."),
    timeout: float = typer.Option(600.0, "--timeout", min=0.001, help=TIMEOUT_HELP),
    commit_seconds: float = typer.Option(
        2.0, "--commit-seconds", min=0, help="Make finished rows durable (fsync) at least this often."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List skipped files and folders, and why."),
) -> None:
    """Detect every face in PATHS and write one row per face (box, keypoints, expression) to --out.

    One run per output at a time: a second run with the same --out, while one is going, is refused.

    Exit status: 0 when every input was processed, 1 when some could not be read (rows say why), 2 for usage
    errors (an output another run is writing too), 130 after Ctrl-C and 143 after SIGTERM (what was done is
    committed: --resume finishes the run).
    """
    from batchface.engine.runner import Options
    from batchface.engine.runner import run as run_batch
    from batchface.errors import Interrupted, Terminated

    if not paths and not files_from:
        raise typer.BadParameter("give PATHS or --files-from", param_hint="PATHS")
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        options = Options(
            detector=detector,
            detector_model=str(detector_model) if detector_model else None,
            expression=expression,
            min_face=min_face,
            every=every,
            fps=fps,
            max_frames=max_frames,
            **({} if detect_every is None else {"detect_every": detect_every}),
            landmarks=landmarks,
            annotate=str(annotate) if annotate else None,
        )
        summary = run_batch(
            paths or [],
            out,
            fmt=fmt,
            options=options,
            workers=workers,
            resume=resume,
            overwrite=overwrite,
            engine=engine,
            address=address,
            timeout=timeout,
            files_from=files_from,
            progress=not quiet,
            commit_seconds=commit_seconds,
        )
    except (ValueError, FileExistsError, FileNotFoundError) as e:
        typer.echo(f"batchface: error: {e}", err=True)
        raise typer.Exit(2) from None
    except OSError as e:  # the output's disk is full, or failing: what was committed stays readable
        typer.echo(
            f"batchface: error: writing {out}: {e.strerror or e}; what was committed is kept: make room and rerun "
            "with --resume",
            err=True,
        )
        raise typer.Exit(2) from None
    except (Interrupted, KeyboardInterrupt, Terminated) as stopped:
        cause = stopped.__cause__ if isinstance(stopped, Interrupted) else stopped
        if isinstance(stopped, Interrupted):  # stopped once it had begun: it says how far it got
            typer.echo(f"batchface: {stopped.summary.line()}", err=True)
        how = "interrupted" if isinstance(cause, KeyboardInterrupt) else "terminated (SIGTERM)"
        typer.echo(f"batchface: {how}: what was done is committed; rerun with --resume to finish", err=True)
        raise typer.Exit(130 if isinstance(cause, KeyboardInterrupt) else 143) from None
    for line in summary.closing_lines(quiet, verbose):
        typer.echo(line, err=True)
    raise typer.Exit(1 if summary.errors else 0)


@app.command()
def report(
    results: list[Path] = typer.Argument(
        ...,
        metavar="RESULTS",
        help="Tables written by `batchface run`: Parquet files or dataset folders, CSV or JSONL files.",
    ),
    out: Path = typer.Option(
        ..., "--out", "-o", help="The report's folder: index.html, tracks.parquet, plots and thumbnails."
    ),
    smooth: float = typer.Option(
        1.0,
        "--smooth",
        min=0.0,
        help="Timelines: the smoothed line is the mean over a centred window of this many seconds of video "
        "time (0 = the points joined).",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Write a page of the results (OUT/index.html, which opens from disk with no network) and the
    per-track table OUT/tracks.parquet. The videos and images named in the tables are read again
    for thumbnails and frames.

    Exit status: 0 when written, 2 when a table cannot be read.
    """
    from batchface.engine.summary import counted
    from batchface.report.build import write_report

    try:
        written = write_report(results, out, window_s=smooth, progress=not quiet)
    except (ValueError, FileNotFoundError, OSError) as e:
        typer.echo(f"batchface: error: {e}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"batchface: report of {counted(written.videos, 'video')} and {counted(written.folders, 'folder')} "
        f"of images in {written.seconds:.1f} s -> {written.index} (per-track table: {written.tracks})",
        err=True,
    )


@app.command()
def models(
    as_json: bool = typer.Option(False, "--json", help="Print JSON, with each file's path."),
    detector: Detector = typer.Option(Detector.yunet, "--detector", help="As for `run`."),
    detector_model: Path | None = typer.Option(
        None, "--detector-model", help="The detector's model file, as for `run`."
    ),
    expression: Expression = typer.Option(Expression.ferplus, "--expression", help="As for `run`."),
) -> None:
    """List the models in use: name, file, sha256, input, keypoint names or classes, metrics."""
    from batchface.faces.analysis import Analyzer
    from batchface.faces.models import EXPRESSION_FILES, sha256_of

    try:
        analyzer = Analyzer(
            detector, str(detector_model) if detector_model else None, expression_model=EXPRESSION_FILES[expression]
        )
    except (ValueError, FileNotFoundError) as e:
        typer.echo(f"batchface: error: {e}", err=True)
        raise typer.Exit(2) from None
    checker = analyzer.detector.checker
    detectors = [("detector", analyzer.detector)] + ([("detector check", checker)] if checker else [])
    entries: list[dict] = [
        {
            "name": f"{role} ({d.name})",
            "file": d.path.name,
            "path": str(d.path),
            "sha256": sha256_of(d.path),
        }
        for role, d in detectors
    ]
    entries += [analyzer.keypoints.describe(), analyzer.expression.describe()]
    if as_json:
        typer.echo(json.dumps(entries, indent=2))
        return
    for entry in entries:
        typer.echo(f"{entry['name']}: {entry['file']}  sha256 {entry['sha256'][:16]}…")
        for key, value in entry.items():
            if key in ("name", "file", "sha256", "path"):
                continue
            if key == "keypoint_names":  # 68 names do not fit a line: --json has them all
                value = f"{len(value)}: {', '.join(value[:3])}, ..., {value[-1]}"
            if key == "ensemble_members":  # each member's recipe is in the model card and --json
                value = f"{len(value)}: " + ", ".join(f"{m['run']} ({m['epochs']} epochs)" for m in value)
            if key == "cascade":
                value = f"{value['run']} ({value['epochs']} epochs) in front, its answer kept from {value['sure']} on"
            typer.echo(f"    {key}: {value}")
