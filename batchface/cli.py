"""The ``batchface`` command. It parses and forwards: the work is in :mod:`batchface.runner`."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from batchface import __version__

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Faces, facial keypoints and expressions for folders of photos and videos.")
models_app = typer.Typer(no_args_is_help=False, invoke_without_command=True,
                         help="List the models in use, or fetch an optional one.")
app.add_typer(models_app, name="models")


def _version(value: bool):
    if value:
        typer.echo(f"batchface {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Print the version and exit.")):
    pass


@app.command()
def run(
    paths: List[Path] = typer.Argument(None, help="Image or video files, or folders (walked recursively)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output table: .parquet (.pq), .csv or .jsonl (.json, .ndjson)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="parquet|csv|jsonl (default: from --out's extension)."),
    files_from: Optional[str] = typer.Option(None, "--files-from", help="Read more paths from this file, one a line ('-' = stdin)."),
    every: int = typer.Option(1, "--every", min=1, help="Video: keep every Nth frame."),
    fps: Optional[float] = typer.Option(None, "--fps", min=0.0001, help="Video: sample this many frames per second of video time (instead of --every)."),
    max_frames: Optional[int] = typer.Option(None, "--max-frames", min=1, help="Video: stop after this many sampled frames."),
    detector: str = typer.Option("auto", "--detector", help="auto|blazeface|yunet. auto = YuNet when its file is at hand, else the built-in BlazeFace."),
    detector_model: Optional[Path] = typer.Option(None, "--detector-model", help="Path to the detector's model file (YuNet's .onnx)."),
    min_face: Optional[int] = typer.Option(None, "--min-face", min=1, help="Look only for faces at least this many pixels wide (box width; narrower ones are left out): faster (80: detection about 2.5x faster with BlazeFace). Default: as small as the detector finds (BlazeFace: about 37 px, or 1/40 of the image's longer side)."),
    landmarks: bool = typer.Option(False, "--landmarks", help="Add every point of the keypoint model (lm_<name>_x/_y columns)."),
    annotate: Optional[Path] = typer.Option(None, "--annotate", help="Write annotated copies here, mirroring the input paths."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=0, help="Worker processes (default: number of CPUs; 0 = in this process)."),
    resume: bool = typer.Option(False, "--resume", help="Finish an interrupted run with the same --out, without duplicates."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out."),
    commit_seconds: float = typer.Option(2.0, "--commit-seconds", min=0, help="Make finished rows durable (fsync) at least this often."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List skipped files and folders, and why."),
):
    """Detect every face in PATHS and write one row per face (box, keypoints, expression) to --out.

    Exit status: 0 when every input was processed, 1 when some could not be read (rows say why), 2 for usage errors.
    """
    from batchface.runner import Options, run as run_batch

    if fps and every != 1:
        raise typer.BadParameter("use either --every or --fps", param_hint="--fps")
    if not paths and not files_from:
        raise typer.BadParameter("give PATHS or --files-from", param_hint="PATHS")
    if resume and overwrite:
        raise typer.BadParameter("--resume and --overwrite exclude each other", param_hint="--resume")
    options = Options(detector=detector, detector_model=str(detector_model) if detector_model else None,
                      min_face=min_face, every=every, fps=fps, max_frames=max_frames, landmarks=landmarks,
                      annotate=str(annotate) if annotate else None)
    try:
        summary = run_batch(paths or [], out, fmt=fmt, options=options, workers=workers, resume=resume,
                            overwrite=overwrite, files_from=files_from, progress=not quiet,
                            commit_seconds=commit_seconds)
    except (ValueError, FileExistsError, FileNotFoundError) as e:
        typer.echo(f"batchface: error: {e}", err=True)
        raise typer.Exit(2)
    if verbose:
        for path, why in summary.skipped_paths:
            typer.echo(f"skipped ({why}): {path}", err=True)
    typer.echo(f"batchface: {summary.line()}", err=True)
    raise typer.Exit(1 if summary.errors else 0)


@models_app.callback()
def models(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON, with each file's path."),
           detector: str = typer.Option("auto", "--detector", help="auto|blazeface|yunet, as for `run`."),
           detector_model: Optional[Path] = typer.Option(None, "--detector-model", help="The detector's model file, as for `run`.")):
    """List the models in use: name, file, sha256, input, keypoint names or classes, metrics."""
    if ctx.invoked_subcommand:
        return
    from batchface.analysis import Analyzer
    from batchface.models import sha256_of

    try:
        analyzer = Analyzer(detector, str(detector_model) if detector_model else None)
    except (ValueError, FileNotFoundError) as e:
        typer.echo(f"batchface: error: {e}", err=True)
        raise typer.Exit(2)
    entries = [{"name": f"detector ({analyzer.detector_name})", "file": analyzer.detector.path.name,
                "path": str(analyzer.detector.path), "sha256": sha256_of(analyzer.detector.path)},
               analyzer.keypoints.describe(), analyzer.expression.describe()]
    if as_json:
        typer.echo(json.dumps(entries, indent=2))
        return
    for entry in entries:
        typer.echo(f"{entry['name']}: {entry['file']}  sha256 {entry['sha256'][:16]}…")
        for key, value in sorted(entry.items()):
            if key in ("name", "file", "sha256", "path"):
                continue
            if key == "keypoint_names":  # 68 names do not fit a line: --json has them all
                names = json.loads(value)
                value = f"{len(names)}: {', '.join(names[:3])}, ..., {names[-1]}"
            if key == "ensemble_members":  # each member's recipe is in the model card and --json
                members = json.loads(value)
                value = f"{len(members)}: " + ", ".join(f"{m['run']} ({m['epochs']} epochs)" for m in members)
            typer.echo(f"    {key}: {value}")


@models_app.command("fetch")
def fetch(name: str = typer.Argument(..., help="yunet"),
          url: Optional[str] = typer.Option(None, "--url", help="Download from here instead of OpenCV Zoo."),
          cache: Optional[Path] = typer.Option(None, "--cache-dir", help="Folder to keep it in (default: $BATCHFACE_CACHE, else $XDG_CACHE_HOME/batchface, else ~/.cache/batchface).")):
    """Download an optional model, check its sha256 and keep it in the cache folder."""
    from batchface.detection import YUNET_URL, fetch_yunet

    if name != "yunet":
        raise typer.BadParameter("the only fetchable model is 'yunet'", param_hint="NAME")
    try:
        path = fetch_yunet(url or YUNET_URL, cache)
    except (OSError, ValueError) as e:
        typer.echo(f"batchface: error: {e}", err=True)
        raise typer.Exit(1)
    typer.echo(str(path))


def entry():
    app(prog_name="batchface")


if __name__ == "__main__":
    sys.exit(entry())
