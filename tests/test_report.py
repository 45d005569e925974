"""``batchface report``: the per-track table, the page (in a real headless Chromium, network off),
its plots and thumbnails, from real runs on real photos and videos: those made from tests/fixtures,
and ../shared's samples where they are here."""

import html
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from markupsafe import escape
from shipped import FIXTURES, PORTRAITS
from typer.testing import CliRunner

import batchface
from batchface.cli import app
from batchface.output.writers import read_table
from batchface.report.grouping import first_per_group, split_by
from batchface.report.smoothing import WINDOW_S, centred_mean
from batchface.report.tracks import tracks

sys.path.insert(0, str(Path(__file__).parent))
from browser import CHROMIUM, Browser  # noqa: E402

cli = CliRunner()
SHARED_VIDEOS = ("short_hamilton_clip.mp4", "0492_03_009_bill_gates.avi")


def batchface_command(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "batchface", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300
    )


@pytest.fixture(scope="module", params=["shipped", pytest.param("shared", marks=pytest.mark.slow)])
def run(request, tmp_path_factory) -> Path:
    """A real run on two videos (their first 60 frames), three photos and two files that are neither
    image nor video, with its report: the folder holding ``videos/``, ``r.parquet`` and ``report/``.
    ``shipped``: the group photo, the portraits, the face video under two names (tests/shipped.py);
    ``shared``: ../shared's sample photos and videos."""
    folder = tmp_path_factory.mktemp("run")
    photos, videos = folder / "photos", folder / "videos"
    photos.mkdir()
    videos.mkdir()
    if request.param == "shipped":
        group, (video, _) = request.getfixturevalue("group_photo"), request.getfixturevalue("face_video")
        for path in (group[0], *(FIXTURES / name for name in PORTRAITS)):
            shutil.copy(path, photos)
        for name in ("faces.mp4", "faces_again.mp4"):
            shutil.copy(video, videos / name)
    else:
        samples = request.getfixturevalue("samples")
        for name in (
            "dlib_faces/2007_007763.jpg",
            "dlib_faces/2008_004176.jpg",
            "face_recognition/obama_and_biden.jpg",
        ):
            shutil.copy(samples / name, photos)
        for name in SHARED_VIDEOS:
            shutil.copy(samples / "videos" / name, videos)
    (photos / "broken.jpg").write_bytes(b"not an image")
    (photos / "broken.mp4").write_bytes(b"not a video" * 100)
    ran = batchface_command(
        "run", photos, *sorted(videos.iterdir()), "--out", folder / "r.parquet", "--max-frames", 60, "-q"
    )
    assert ran.returncode == 1, ran.stderr  # the broken files
    made = batchface_command("report", folder / "r.parquet", "--out", folder / "report", "-q")
    assert made.returncode == 0, made.stderr
    assert f"-> {folder / 'report' / 'index.html'}" in made.stderr
    return folder


def videos_of(run: Path) -> list[str]:
    return sorted(path.name for path in (run / "videos").iterdir())


def test_one_row_per_track_whose_frames_are_the_tables_rows(run):
    table = read_table(run / "r.parquet")
    per_track = pq.read_table(run / "report" / "tracks.parquet")
    rows = [r for r in table.to_pylist() if r["track_id"] is not None]
    assert rows and all(r["media_type"] == "video" and r["status"] == "ok" for r in rows)
    counted = Counter((r["source"], r["track_id"]) for r in rows)
    assert {(t["source"], t["track_id"]): t["frames"] for t in per_track.to_pylist()} == counted
    assert sum(per_track["frames"].to_pylist()) == len(rows)
    assert {Path(s).name for s, _ in counted} == set(videos_of(run))
    for track in per_track.to_pylist():
        own = sorted(
            (r for r in rows if (r["source"], r["track_id"]) == (track["source"], track["track_id"])),
            key=lambda r: r["frame_index"],
        )
        assert (track["first_frame_index"], track["last_frame_index"]) == (
            own[0]["frame_index"],
            own[-1]["frame_index"],
        )
        assert track["duration_s"] == pytest.approx(own[-1]["timestamp_s"] - own[0]["timestamp_s"])
        assert track["p_happy_mean"] == pytest.approx(np.mean([r["p_happy"] for r in own]))
        assert track["p_neutral_max"] == max(r["p_neutral"] for r in own)
        assert track["box_w_mean"] == pytest.approx(np.mean([r["box_w"] for r in own]))
        emotions = Counter(r["emotion"] for r in own)
        top = max(emotions.values())
        assert track["dominant_emotion"] == min(e for e, n in emotions.items() if n == top)
        assert track["dominant_share"] == pytest.approx(top / len(own))
        best = max(own, key=lambda r: (r["det_score"], -r["frame_index"]))
        assert (track["best_frame_index"], track["best_box_w"]) == (best["frame_index"], best["box_w"])


def test_the_python_function_gives_the_table_written(run):
    table = read_table(run / "r.parquet")
    assert batchface.tracks(table).equals(pq.read_table(run / "report" / "tracks.parquet"))
    images_only = table.filter(pa.compute.equal(table["media_type"], "image"))
    empty = batchface.tracks(images_only)
    assert empty.num_rows == 0 and empty.column_names == batchface.tracks(table).column_names


@pytest.mark.slow
def test_csv_jsonl_and_a_dataset_folder_give_the_same_tracks(face_video, tmp_path):
    video = face_video[0]
    frames = {}
    for out in ("r.csv", "r.jsonl", "parts/"):
        ran = batchface_command("run", video, "--out", f"{tmp_path}/{out}", "--max-frames", 12, "-q", "-w", 0)
        assert ran.returncode == 0, ran.stderr
        made = batchface_command("report", f"{tmp_path}/{out}", "--out", tmp_path / f"report-{out.strip('/')}", "-q")
        assert made.returncode == 0, made.stderr
        per_track = pq.read_table(tmp_path / f"report-{out.strip('/')}" / "tracks.parquet")
        frames[out] = per_track.select(["track_id", "frames", "first_frame_index", "dominant_emotion"]).to_pylist()
    assert frames["r.csv"] == frames["r.jsonl"] == frames["parts/"] and sum(t["frames"] for t in frames["r.csv"]) >= 12
    page = (tmp_path / "report-r.csv" / "index.html").read_text()
    assert "CSV and JSONL tables keep no provenance" in page and video.name in page


def test_two_tables_make_one_report(run, tmp_path):
    again = tmp_path / "again.parquet"
    shutil.copy(run / "r.parquet", again)
    cli_result = cli.invoke(app, ["report", str(run / "r.parquet"), str(again), "--out", str(tmp_path / "rep"), "-q"])
    assert cli_result.exit_code == 0, cli_result.output
    one = pq.read_table(run / "report" / "tracks.parquet")
    both = pq.read_table(tmp_path / "rep" / "tracks.parquet")
    assert both["frames"].to_pylist() == [2 * n for n in one["frames"].to_pylist()]
    # one provenance block per table read, one "all tracks" block per video
    assert (tmp_path / "rep" / "index.html").read_text().count("<details") == 2 + len(videos_of(run))


def test_a_table_that_is_missing_or_not_a_table_is_one_line_and_exit_2(tmp_path):
    missing = cli.invoke(app, ["report", str(tmp_path / "none.parquet"), "--out", str(tmp_path / "rep")])
    assert missing.exit_code == 2 and "none.parquet: no such file or folder" in missing.output
    (tmp_path / "x.txt").write_text("hello")
    wrong = cli.invoke(app, ["report", str(tmp_path / "x.txt"), "--out", str(tmp_path / "rep")])
    assert wrong.exit_code == 2 and "batchface: error:" in wrong.output
    help_text = " ".join(cli.invoke(app, ["report", "-h"], env={"COLUMNS": "200"}).output.split())
    assert "report [OPTIONS] {RESULTS}..." in help_text and "--smooth <float range>" in help_text
    assert f"[default: {WINDOW_S}; x>=0.0]" in help_text


def test_the_page_lists_every_video_and_failure_and_its_files_are_beside_it(run):
    report = run / "report"
    page = (report / "index.html").read_text()
    for name in videos_of(run):
        assert re.search(rf"<h3>{re.escape(name)} <small>", page), name
    failures = [r for r in read_table(run / "r.parquet").to_pylist() if r["status"] == "error"]
    assert sorted(Path(r["source"]).name for r in failures) == ["broken.jpg", "broken.mp4"]
    for failure in failures:  # each failed input with its reason
        assert f"<td>{escape(failure['source'])}</td>" in page
        assert f'<td class="error">{escape(failure["error"])}</td>' in page
    # a video that could not be read is listed with the failures, not among the videos
    assert "<h3>broken.mp4" not in page
    assert "<b>2</b>errors" in page and "<b>3</b>videos" in page and "ferplus" in page
    sources = [html.unescape(s) for s in re.findall(r'(?:src|href)="([^"]+)"', page)]
    assert sources and not [s for s in sources if re.match(r"[a-z]+:", s) or s.startswith("/")]
    assert all((report / s).is_file() for s in sources if not s.startswith("#"))
    assert "<link" not in page and "<script src" not in page
    # per video: a presence plot, a timeline per track (all fit SHOWN_TRACKS here), frames of the strip
    per_track = pq.read_table(report / "tracks.parquet")
    for number, (_, own) in enumerate(split_by(per_track, ["source"])):
        folder = report / "videos" / f"{number:04d}"
        assert {p.name for p in folder.glob("track_*.png")} == {
            f"track_{t:04d}.png" for t in own["track_id"].to_pylist()
        }
        assert len(list(folder.glob("frame_*.jpg"))) == 8 and (folder / "presence.png").is_file()
    thumb = cv2.imread(str(next((report / "images").rglob("face_*.jpg"))))
    assert thumb.shape == (112, 112, 3) and thumb.std() > 10


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium; .ci/run installs it)")
def test_the_page_in_chromium_from_disk_with_the_network_off(run, tmp_path):
    with Browser(width=1280, height=1000) as browser:
        browser.open((run / "report" / "index.html").as_uri())
        headings = browser.evaluate("[...document.querySelectorAll('h3')].map(h => h.innerText)")
        broken = browser.evaluate("[...document.images].filter(i => !(i.complete && i.naturalWidth)).map(i => i.src)")
        images = browser.evaluate("document.images.length")
        # the gallery sorted by score, then by file, as a reader's clicks do
        gallery = "document.querySelector('.gallery')"
        browser.evaluate("document.querySelector('.controls button[data-sort=score]').click()")
        scores = browser.evaluate(f"[...{gallery}.children].map(f => Number(f.dataset.score))")
        browser.evaluate("document.querySelector('.controls button[data-sort=source]').click()")
        files = browser.evaluate(f"[...{gallery}.children].map(f => f.dataset.source)")
        png = browser.screenshot()
        problems = browser.problems
    assert problems == [] and broken == [] and images > 30
    assert all(any(h.startswith(name) for h in headings) for name in videos_of(run))
    assert scores == sorted(scores, reverse=True) and len(scores) > 5 and files == sorted(files)
    (tmp_path / "page.png").write_bytes(png)
    shot = cv2.imread(str(tmp_path / "page.png"))
    height, width = shot.shape[:2]
    assert width == 1280 and height > 3000  # the whole page, not the window
    # not blank: most rows hold something other than the white background, in colour
    assert (shot < 240).any(axis=(1, 2)).mean() > 0.5
    assert len(np.unique(shot.reshape(-1, 3)[::97], axis=0)) > 2000


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium; .ci/run installs it)")
def test_the_browser_check_sees_console_errors_missing_files_and_the_network(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><body><img src="missing.png"><img src="http://example.com/a.png">'
        "<script>console.error('boom'); notAFunction();</script></body>"
    )
    with Browser() as browser:
        browser.open(page.as_uri())
        problems = "\n".join(browser.problems)
    assert "ERR_FILE_NOT_FOUND" in problems and "missing.png" in problems
    assert "console.error: ['boom']" in problems and "notAFunction is not defined" in problems
    assert "ERR_PROXY_CONNECTION_FAILED http://example.com/a.png" in problems


def test_the_centred_mean_is_over_half_the_window_each_way():
    times = np.array([0.0, 0.1, 0.2, 1.0, 1.05])
    values = np.array([0.0, 1.0, 2.0, 3.0, 5.0])
    assert centred_mean(times, values, 0.2).tolist() == pytest.approx([0.5, 1.0, 1.5, 4.0, 4.0])
    assert centred_mean(times, values, 0.0).tolist() == values.tolist()
    assert centred_mean(times, values, 10.0).tolist() == pytest.approx([2.2] * 5)


def test_groups_are_found_with_nulls_and_the_first_rows_of_each_kept():
    table = pa.table({"k": ["b", "a", None, "a", "b", None], "v": [1, 5, 7, 3, 2, 8]})
    assert [(key, own["v"].to_pylist()) for key, own in split_by(table, ["k"])] == [
        (("a",), [5, 3]),
        (("b",), [1, 2]),
        ((None,), [7, 8]),
    ]
    top = first_per_group(table, ["k"], [("v", "descending")], k=1)
    assert top.to_pylist() == [{"k": "a", "v": 5}, {"k": "b", "v": 2}, {"k": None, "v": 8}]
    assert tracks(pa.table({"source": pa.array([], pa.string())})).num_rows == 0
