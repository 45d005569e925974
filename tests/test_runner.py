"""The batch run end to end: real photos and videos, real decoding, real models, real processes."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from corpus import bad_inputs
from shipped import photo_for

from batchface.engine.pool import NO_WORKER_STARTS
from batchface.engine.runner import Options, run
from batchface.errors import Interrupted
from batchface.media.video import VideoReader
from batchface.output.writers import read_table

KEYS = ("source", "media_type", "frame_index", "face_index", "status", "error")


def rows(path):
    return read_table(path).to_pylist()


def assert_same_rows(a, b):
    assert [tuple(r[k] for k in KEYS) for r in a] == [tuple(r[k] for k in KEYS) for r in b]
    for ra, rb in zip(a, b):
        for key, value in ra.items():
            if isinstance(value, float):
                assert value == pytest.approx(rb[key], abs=1e-4, nan_ok=True), key
            else:
                assert value == rb[key], key


@pytest.fixture(scope="module")
def photos(group_photo, portrait, faceless_photo, tmp_path_factory):
    """A few real photos in two folders, one file name used in both: six faces, two, one and none."""
    root = tmp_path_factory.mktemp("photos")
    (root / "a").mkdir()
    (root / "b").mkdir()
    group = cv2.imread(str(group_photo[0]))
    cv2.imwrite(str(root / "a" / "same.jpg"), group[:300, :380])  # its first and third faces
    shutil.copy(portrait, root / "b" / "same.jpg")
    shutil.copy(group_photo[0], root / "a" / "group.jpg")
    shutil.copy(faceless_photo, root / "b" / "cup.jpg")
    return root


def test_tasks_hold_16_images_or_fewer_whose_files_add_up_to_the_budget(tmp_path, monkeypatch):
    from batchface.engine import plan
    from batchface.engine.plan import Work, tasks_of
    from batchface.media.inputs import Source

    monkeypatch.setattr(plan, "TASK_BYTES", 1000)
    works = []
    for i, size in enumerate([10] * 20 + [400] * 5):
        (tmp_path / f"{i:02d}.jpg").write_bytes(b"x" * size)
        works.append(Work(Source(str(tmp_path / f"{i:02d}.jpg"), "image")))
    video = Work(Source(str(tmp_path / "v.mp4"), "video"))
    gone = Work(Source(str(tmp_path / "gone.jpg"), "image"))  # no file: counted as empty
    sizes = [len(task) for task in tasks_of(works[:18] + [video, gone] + works[18:])]
    # 16 small images; 2 more, cut by the video; the video; the missing file, the last two small
    # images and three files of 400 bytes, the third passing 1000; the last two
    assert sizes == [16, 2, 1, 6, 2]


def test_photos_give_one_row_per_face_with_provenance(photos, tmp_path):
    out = tmp_path / "r.parquet"
    summary = run([photos], out, options=Options(annotate=str(tmp_path / "ann")), workers=0, progress=False)
    got = rows(out)
    per_source = {}
    for r in got:
        per_source.setdefault(os.path.relpath(r["source"], photos), []).append(r)
    assert list(per_source) == ["a/group.jpg", "a/same.jpg", "b/cup.jpg", "b/same.jpg"]
    assert [r["face_index"] for r in per_source["a/group.jpg"]] == [0, 1, 2, 3, 4, 5]
    assert len(per_source["a/same.jpg"]) == 2 and len(per_source["b/same.jpg"]) == 1
    (cup,) = per_source["b/cup.jpg"]
    assert cup["status"] == "no_face" and cup["face_index"] is None and cup["width"] == 400
    face = per_source["b/same.jpg"][0]
    assert face["status"] == "ok" and face["media_type"] == "image" and face["frame_index"] == 0
    assert all(r["track_id"] is None for r in got)  # tracks are a video's
    assert (face["width"], face["height"]) == (341, 400)
    assert face["box_x"] < face["right_eye_center_x"] < face["left_eye_center_x"] < face["box_x"] + face["box_w"]
    assert face["emotion"] in {c[2:] for c in face if c.startswith("p_")}
    assert sum(face[c] for c in face if c.startswith("p_")) == pytest.approx(1.0, abs=1e-4)
    assert (summary.inputs, summary.images, summary.faces, summary.errors) == (4, 4, 9, 0)
    # annotated copies mirror the input paths, so the two same.jpg do not collide
    for rel in ("a/same.jpg", "b/same.jpg", "a/group.jpg", "b/cup.jpg"):
        assert (tmp_path / "ann" / rel).stat().st_size > 1000  # below the argument, not its absolute path


@pytest.mark.parametrize(
    "name, size, faces",
    [("large_photo", (3600, 2400), 6), ("udacity_p1/the_beatles.jpg", (3648, 2406), 4)],  # decoded at half size
)
def test_a_large_photo_is_decoded_reduced_and_reported_at_its_full_size(request, tmp_path, name, size, faces):
    photo = photo_for(request, name)
    run([photo], tmp_path / "r.csv", workers=0, progress=False)
    got = rows(tmp_path / "r.csv")
    assert [(r["width"], r["height"], r["status"]) for r in got] == [(*size, "ok")] * faces
    assert max(r["box_x"] + r["box_w"] for r in got) > 2000  # in the full image's pixels
    run([photo], tmp_path / "annotated.csv", options=Options(annotate=str(tmp_path / "ann")), workers=0, progress=False)
    copy = next((tmp_path / "ann").rglob(photo.name))
    assert cv2.imread(str(copy)).shape[:2] == size[::-1]  # drawn on the full-size image
    full = rows(tmp_path / "annotated.csv")  # decoded at full size for the copy: the same faces
    assert len(full) == faces and all(abs(a["box_x"] - b["box_x"]) < 10 for a, b in zip(got, full))


def test_worker_processes_give_the_same_table_in_the_same_order(photos, tmp_path):
    run([photos], tmp_path / "one.csv", options=Options(), workers=0, progress=False)
    run([photos], tmp_path / "two.csv", options=Options(), workers=2, progress=False)
    assert_same_rows(rows(tmp_path / "one.csv"), rows(tmp_path / "two.csv"))


def test_video_rows_carry_frame_index_and_timestamp(samples, tmp_path):
    video = samples / "videos" / "0492_03_009_bill_gates.avi"
    out = tmp_path / "v.jsonl"
    summary = run(
        [video],
        out,
        options=Options(every=25, landmarks=True, annotate=str(tmp_path / "ann")),
        workers=0,
        progress=False,
    )
    got = rows(out)
    assert [r["frame_index"] for r in got] == [0, 25, 50, 75, 100, 125, 150, 175, 200]
    assert [r["timestamp_s"] for r in got] == pytest.approx([i / 25 for i in range(0, 201, 25)])
    assert all(r["status"] == "ok" and r["media_type"] == "video" for r in got)
    assert {"lm_jaw_00_x", "lm_mouth_inner_7_y"} <= set(got[0])
    assert summary.frames == 9 and summary.videos == 1

    # 320 x 239: an odd side, which H.264 cannot store exactly, so VP9 in WebM, at the exact size
    annotated = [f.image for f in VideoReader(tmp_path / "ann" / (video.name + ".webm"))]
    assert len(annotated) == 9 and annotated[0].shape == (239, 320, 3)


def test_an_annotated_video_is_h264_at_the_exact_size_with_track_ids(samples, tmp_path):
    import av

    video = samples / "videos" / "short_hamilton_clip.mp4"  # 640 x 360
    run([video], tmp_path / "v.csv", options=Options(max_frames=30, annotate=str(tmp_path / "ann")), workers=0)
    with av.open(str(tmp_path / "ann" / video.name)) as annotated:
        stream = annotated.streams.video[0]
        frames = [f.to_ndarray(format="bgr24") for f in annotated.decode(stream)]
        assert stream.codec_context.name == "h264" and stream.codec_context.profile != "High 4:4:4 Predictive"
    source = [f.image for f in VideoReader(video, max_frames=30)]
    assert len(frames) == 30 and frames[0].shape == (360, 640, 3)
    # drawn on the source's frames: the same pictures but for the boxes and labels (lossy coding aside)
    assert np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(frames, source)]) < 6
    labels = rows(tmp_path / "v.csv")
    assert {r["track_id"] for r in labels} == {0, 1, 2, 3, 4} and labels[0]["error"] is None  # a cut at 20


def test_an_annotated_video_of_the_shipped_fixtures_has_every_frame_and_its_track_ids(face_video, tmp_path):
    import av

    video, starts = face_video  # 320 x 240, 90 frames, cuts at 30, 55 and 65
    run([video], tmp_path / "v.csv", options=Options(annotate=str(tmp_path / "ann")), workers=0, progress=False)
    with av.open(str(tmp_path / "ann" / video.name)) as annotated:
        stream = annotated.streams.video[0]
        frames = [f.to_ndarray(format="bgr24") for f in annotated.decode(stream)]
        assert stream.codec_context.name == "h264"
    source = [f.image for f in VideoReader(video)]
    assert len(frames) == len(source) == 90 and frames[0].shape == (240, 320, 3)
    # the boxes are drawn on the frames with a face and only there (lossy coding aside)
    changed = [np.abs(a.astype(int) - b).mean() for a, b in zip(frames, source)]
    cup = range(starts[2], starts[3])
    assert max(changed[i] for i in cup) < 3 < min(c for i, c in enumerate(changed) if i not in cup)
    assert [r["track_id"] for r in rows(tmp_path / "v.csv")] == [0] * 30 + [1] * 25 + [None] * 10 + [2] * 25


def test_a_video_annotated_in_pieces_is_drawn_with_the_whole_videos_track_ids(samples, tmp_path, monkeypatch):
    import av

    from batchface.engine import plan
    from batchface.media.inputs import Source
    from batchface.output import annotate

    drawn, real = [], annotate.draw
    monkeypatch.setattr(annotate, "draw", lambda image, faces, ids=None: drawn.append(ids) or real(image, faces, ids))
    video = samples / "videos" / "short_hamilton_clip.mp4"
    options = Options(max_frames=90, annotate=str(tmp_path / "ann"))
    assert len(plan.plan([Source(str(video), "video")], options)) == 4  # pieces of 26 frames, and 12
    run([video], tmp_path / "v.csv", options=options, workers=0, progress=False)
    by_frame = {}
    for r in rows(tmp_path / "v.csv"):
        by_frame.setdefault(r["frame_index"], []).append(r["track_id"])
    assert drawn == [by_frame[i] for i in range(90)]  # the ids of the table, not the pieces' own
    assert len({i for ids in drawn for i in ids}) >= 3 and max(max(ids) for ids in drawn) >= 3
    with av.open(str(tmp_path / "ann" / video.name)) as joined:
        stream = joined.streams.video[0]
        times = [float(f.pts * f.time_base) for f in joined.decode(stream)]
    assert times == pytest.approx([k * 100 / 2997 for k in range(90)], abs=1e-3)  # 29.97 frames a second
    assert sorted(p.name for p in (tmp_path / "ann").iterdir()) == [video.name]  # the pieces are gone


def test_a_resume_within_an_annotated_video_says_its_copy_is_not_written(samples, tmp_path, monkeypatch, capsys):
    from batchface.engine.runner import STOP_AFTER_VARIABLE

    video = samples / "videos" / "short_hamilton_clip.mp4"
    options = Options(max_frames=90, annotate=str(tmp_path / "ann"))
    monkeypatch.setenv(STOP_AFTER_VARIABLE, "2")  # stands in for a kill at the third piece: what was committed stays
    with pytest.raises(Interrupted):
        run([video], tmp_path / "r.csv", options=options, workers=0, progress=False, commit_seconds=0)
    monkeypatch.delenv(STOP_AFTER_VARIABLE)
    summary = run([video], tmp_path / "r.csv", options=options, workers=0, progress=False, resume=True)
    assert summary.errors == 0 and len({r["frame_index"] for r in rows(tmp_path / "r.csv")}) == 90
    assert "annotated copy not written: the run was resumed within this video" in capsys.readouterr().err
    assert list((tmp_path / "ann").iterdir()) == []  # no copy made of some pieces, nothing left behind


def check_bad_inputs(tmp_path, photo, decoded):
    expect = bad_inputs(tmp_path / "bad", photo, decoded)
    summary = run([tmp_path / "bad"], tmp_path / "r.csv", options=Options(), workers=2, progress=False)
    got = {os.path.basename(r["source"]): r for r in rows(tmp_path / "r.csv")}
    assert set(got) == set(expect)
    for name, status in expect.items():
        if status != "any":
            assert got[name]["status"] == status, (name, got[name]["error"])
        if got[name]["status"] == "error":
            assert got[name]["error"] and "\n" not in got[name]["error"]
    assert "too large" in got["bomb.png"]["error"] and "broken symbolic link" in got["broken_link.jpg"]["error"]
    assert summary.skipped == 1 and summary.errors == sum(r["status"] == "error" for r in got.values())


def test_bad_inputs_never_stop_the_run(portrait, tmp_path):
    check_bad_inputs(tmp_path, portrait, "ok")


def test_bad_inputs_never_stop_the_run_without_the_sample_photos(tmp_path):
    """The same corpus made from a photo without a face: every file that decodes says ``no_face``."""
    photo = tmp_path / "noise.jpg"
    cv2.imwrite(str(photo), np.random.default_rng(0).integers(0, 255, (240, 320, 3), np.uint8))
    check_bad_inputs(tmp_path, photo, "no_face")


def kill_midway_and_resume(folder, tmp_path, n_inputs, exit_status=0):
    """Run ``batchface run`` on ``folder`` as a subprocess, SIGKILL it once it has committed an
    input, then ``--resume`` it: the table must be exactly that of an uninterrupted run."""
    command = [
        sys.executable,
        "-m",
        "batchface",
        "run",
        str(folder),
        "--out",
        str(tmp_path / "r.parquet"),
        "--workers",
        "2",
        "--quiet",
        "--commit-seconds",
        "0",
    ]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE)
    progress = tmp_path / "r.parquet.progress"
    deadline = time.time() + 120
    journalled = lambda: [k[0] for line in progress.read_text().splitlines()[1:] for k in json.loads(line)["keys"]]
    while time.time() < deadline and not (progress.exists() and journalled()):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    committed = len(journalled())
    assert 1 <= committed < n_inputs, "the kill must land mid-run"
    # what was committed is readable now, before any resume: exactly the journalled inputs' rows
    import pyarrow.dataset as ds

    parts = ds.dataset(tmp_path / "r.parquet.parts", format="parquet").to_table().column("source").to_pylist()
    assert set(journalled()) <= set(parts)

    done = subprocess.run(command + ["--resume"], capture_output=True, text=True)
    assert done.returncode == exit_status, done.stderr
    assert f"{committed} already done" in done.stderr
    run([folder], tmp_path / "straight.parquet", options=Options(), workers=2, progress=False)
    assert_same_rows(rows(tmp_path / "r.parquet"), rows(tmp_path / "straight.parquet"))
    assert not progress.exists()


@pytest.mark.slow
def test_killed_run_resumes_to_exactly_the_uninterrupted_table(photos, tmp_path):
    many = tmp_path / "many"
    many.mkdir()
    for i in range(40):
        src = [photos / "b" / "same.jpg", photos / "a" / "same.jpg"][i % 2]  # one face, two faces
        shutil.copy(src, many / f"{i:02d}.jpg")
    kill_midway_and_resume(many, tmp_path, 40)


@pytest.mark.slow
def test_killed_run_of_faceless_and_broken_files_resumes_exactly(tmp_path):
    """The same without the sample photos: no faces, one row an input, one of them an error."""
    many = tmp_path / "many"
    many.mkdir()
    rng = np.random.default_rng(0)
    for i in range(60):
        cv2.imwrite(str(many / f"{i:02d}.jpg"), rng.integers(0, 255, (720, 960, 3), np.uint8))
    (many / "30.jpg").write_bytes(b"not a jpeg")
    kill_midway_and_resume(many, tmp_path, 60, exit_status=1)  # 1: an input could not be read
    assert [r["status"] for r in rows(tmp_path / "r.parquet")] == ["no_face"] * 30 + ["error"] + ["no_face"] * 29


def test_a_video_cut_into_pieces_gives_the_rows_of_the_whole(samples, tmp_path, monkeypatch):
    from batchface.engine import plan
    from batchface.media.inputs import Source

    video = samples / "videos" / "short_hamilton_clip.mp4"
    options = Options(every=5)
    monkeypatch.setattr(plan, "PIECES", 1)  # a short video in one piece
    assert [(w.start, w.stop) for w in plan.plan([Source(str(video), "video")], options)] == [(0, None)]
    run([video], tmp_path / "whole.parquet", options=options, workers=0, progress=False)
    monkeypatch.undo()
    # 16 pieces of a second (25 frames) at least, each starting at a keyframe (every 3rd sampled frame)
    cuts = [(w.start, w.stop, w.frames) for w in plan.plan([Source(str(video), "video")], options)]
    assert cuts == [(k, k + 30, 6) for k in range(0, 270, 30)] + [(270, None, 1)]
    summary = run([video], tmp_path / "pieces.parquet", options=options, workers=2, progress=False)
    whole, pieces = rows(tmp_path / "whole.parquet"), rows(tmp_path / "pieces.parquet")
    assert sorted({r["frame_index"] for r in whole}) == list(range(0, 275, 5))
    assert_same_rows(whole, pieces)  # track ids included
    tracks = [{r["track_id"] for r in pieces if r["frame_index"] in frames} for frames in (range(100), range(100, 275))]
    assert tracks[0] & tracks[1] - {None}, "a track must cross a piece boundary, keeping its id"
    assert (summary.videos, summary.frames, summary.inputs) == (1, 55, 1)


def test_a_killed_run_that_had_cut_a_video_resumes_piece_by_piece(samples, tmp_path, monkeypatch):
    from batchface.engine.runner import STOP_AFTER_VARIABLE

    video = samples / "videos" / "short_hamilton_clip.mp4"
    options = Options(every=5)
    run([video], tmp_path / "whole.csv", options=options, workers=0, progress=False)
    monkeypatch.setenv(STOP_AFTER_VARIABLE, "3")  # stands in for a kill after three pieces: what was committed stays
    with pytest.raises(Interrupted):
        run([video], tmp_path / "r.csv", options=options, workers=0, progress=False, commit_seconds=0)
    monkeypatch.delenv(STOP_AFTER_VARIABLE)
    assert rows(tmp_path / "r.csv")[-1]["frame_index"] == 85  # pieces [0, 90) were committed (of 30 frames)
    with pytest.raises(ValueError, match="differ in: options.every: 5 -> 2"):  # other sampling would mix two runs
        run([video], tmp_path / "r.csv", options=Options(every=2), workers=0, progress=False, resume=True)
    summary = run([video], tmp_path / "r.csv", options=options, workers=2, progress=False, resume=True)
    assert_same_rows(rows(tmp_path / "r.csv"), rows(tmp_path / "whole.csv"))
    assert (summary.videos, summary.frames) == (1, 37)


@pytest.mark.slow
def test_a_worker_that_dies_or_hangs_costs_only_its_own_input(tmp_path, monkeypatch):
    from batchface.engine.plan import Work
    from batchface.engine.pool import WorkerPool
    from batchface.engine.worker import crashed
    from batchface.media.inputs import Source

    (tmp_path / "crashy.py").write_text(
        "import os, time\n"
        "from batchface.engine.worker import Result\n"
        "def work(task):\n"
        "    if any(w.source.path == 'boom.jpg' for w in task):\n"
        "        os._exit(1)  # as a segfault would\n"
        "    if any(w.source.path == 'hang.jpg' for w in task):\n"
        "        time.sleep(600)  # as a decoder that never returns\n"
        "    return [Result(w, [{'source': w.source.path, 'status': 'ok'}], 1) for w in task]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import crashy

    names = ("a", "b", "c", "boom", "d", "hang", "f", "g")
    tasks = [[Work(Source(f"{name}.jpg", "image")) for name in names[i : i + 2]] for i in range(0, 8, 2)]
    start = time.monotonic()
    with WorkerPool(2) as pool:
        got = [r for r in pool.ordered_results(tasks, crashy.work, (), 1.0, crashed, timeout=5) if r is not None]
    assert time.monotonic() - start < 60
    flat = [(result.work.source.path, result.rows[0]) for results in got for result in results]
    assert [path for path, _ in flat] == [f"{name}.jpg" for name in names]  # in order, none twice
    assert [row["status"] for _, row in flat] == ["ok"] * 3 + ["error", "ok", "error", "ok", "ok"]
    assert flat[3][1]["error"] == "the worker process died on this input"
    assert flat[5][1]["error"] == "no result in 5 s: stopped"


def test_workers_that_all_exit_as_they_start_say_so_even_before_the_first_task(tmp_path, monkeypatch):
    from batchface.engine.pool import NO_WORKER_STARTS, WorkerPool

    (tmp_path / "dying.py").write_text("import os\ndef start():\n    os._exit(1)  # as a script without its guard\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import dying

    with WorkerPool(2, dying.start) as pool:
        deadline = time.monotonic() + 60
        while pool._pool.active and time.monotonic() < deadline:  # pebble gives up on the pool: no task was lost
            time.sleep(0.1)
        assert not pool._pool.active
        with pytest.raises(RuntimeError) as raised:
            list(pool.ordered_results([["one"]], print, (), 1.0, None))
    assert str(raised.value) == NO_WORKER_STARTS


@pytest.mark.parametrize("caller", [None, "3"])
def test_workers_start_with_one_blas_thread_unless_the_caller_says_and_its_environment_stays(
    tmp_path, monkeypatch, caller
):
    from batchface.engine.pool import WorkerPool

    (tmp_path / "blas.py").write_text("import os\ndef threads(task):\n    return os.getenv('OPENBLAS_NUM_THREADS')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import blas

    if caller is None:
        monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", caller)
    with WorkerPool(2) as pool:
        got = [r for r in pool.ordered_results([["a"], ["b"]], blas.threads, (), 1.0, None) if r is not None]
    assert got == [caller or "1"] * 2
    assert os.environ.get("OPENBLAS_NUM_THREADS") == caller


def test_a_resumed_run_still_counts_the_inputs_that_failed_before(portrait, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    shutil.copy(portrait, folder / "a.jpg")
    first = run([folder], tmp_path / "r.csv", options=Options(), workers=0, progress=False)
    assert first.errors == 1
    shutil.copy(portrait, folder / "b.jpg")
    again = run([folder], tmp_path / "r.csv", options=Options(), workers=0, progress=False, resume=True)
    assert (again.resumed, again.errors) == (2, 1)  # exit status 1: the table holds an error row
    assert [os.path.basename(r["source"]) for r in rows(tmp_path / "r.csv")] == ["a.jpg", "broken.jpg", "b.jpg"]


def test_annotated_copies_that_cannot_be_written_leave_the_rows_and_say_so(portrait, face_video, tmp_path):
    blocked = tmp_path / "ann"
    blocked.write_text("a file where the folder should be")
    video, _ = face_video  # frames 0, 40 and 80: a face each
    options = Options(every=40, annotate=str(blocked))
    summary = run([portrait, video], tmp_path / "r.csv", options=options, workers=0, progress=False)
    got = rows(tmp_path / "r.csv")
    assert [(r["media_type"], r["status"]) for r in got] == [("image", "ok")] + [("video", "ok")] * 3
    assert all(r["error"].startswith("annotated copy not written: ") for r in got)
    assert summary.errors == 0 and summary.faces == 4


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda out: run([], out, resume=True, overwrite=True), "exclude each other"),
        (lambda out: run([], out, options=Options(fps=1.0, every=2)), "either every"),
        (lambda out: run([], out, options=Options(min_face=0)), "min_face must be at least 1"),
        (lambda out: run([], out, workers=-1), "workers and commit_seconds"),
        (lambda out: run([], out, options=Options(detector="haar")), "unknown detector 'haar'"),
        (lambda out: run([], out, fmt="xlsx"), "unknown format 'xlsx'"),
        (lambda out: run([], out, engine="spark"), "unknown engine 'spark'"),
    ],
)
def test_a_python_caller_gets_the_rules_of_the_command_line(tmp_path, call, message):
    with pytest.raises(ValueError, match=message):
        call(tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_a_python_caller_is_told_in_python_terms(tmp_path, analyzer):
    (tmp_path / "in").mkdir()
    cv2.imwrite(str(tmp_path / "in" / "blank.png"), np.zeros((64, 64, 3), np.uint8))
    run([tmp_path / "in"], tmp_path / "r.csv", workers=0, progress=False)
    with pytest.raises(FileExistsError, match=r"pass resume=True \(--resume\) to finish that run, or overwrite=True"):
        run([tmp_path / "in"], tmp_path / "r.csv", workers=0, progress=False)
    with pytest.raises(TypeError, match="image is None: cv2.imread gives None for a file it cannot read"):
        analyzer.analyze(cv2.imread(str(tmp_path / "missing.jpg")))
    with pytest.raises(TypeError, match=r"a numpy array \[H, W, 3\] of uint8; got array float64 \(4, 4\)"):
        analyzer.analyze(np.zeros((4, 4)))


@pytest.mark.parametrize("workers", [0, 1])
def test_the_progress_bar_counts_frames_as_they_are_read(samples, tmp_path, monkeypatch, workers):
    import tqdm

    counts, real = [], tqdm.tqdm.update
    monkeypatch.setattr(tqdm.tqdm, "update", lambda self, n=1: counts.append(n) or real(self, n))
    video = samples / "videos" / "0492_03_009_bill_gates.avi"  # 202 frames
    run([video, samples / "face_recognition" / "obama_small.jpg"], tmp_path / "r.csv", workers=workers)
    # the video's frames in the batches the workers read them in (16 frames; 8 pieces, 7 of 26 frames
    # and one of 20), then the photo
    assert counts == [16, 10] * 7 + [16, 4, 1]


@pytest.mark.parametrize("workers", [0, 1])
def test_the_progress_bar_counts_faces_as_the_workers_find_them(face_video, tmp_path, monkeypatch, workers):
    import tqdm

    from batchface.engine import plan
    from batchface.media.inputs import Source

    shown, real = [], tqdm.tqdm.set_postfix
    monkeypatch.setattr(tqdm.tqdm, "set_postfix", lambda self, **kw: shown.append(kw["faces"]) or real(self, **kw))
    video, _ = face_video  # 90 frames: 80 with one face
    summary = run([video], tmp_path / "r.csv", workers=workers, options=Options(max_frames=90))
    pieces = len(plan.plan([Source(str(video), "video")], Options(max_frames=90)))
    assert summary.faces == 80 and shown[-1] == 80 and shown == sorted(shown)
    # every batch of 16 frames tells its faces, not only each piece as it is committed
    assert len(set(shown)) > pieces + 1


@pytest.mark.slow
def test_the_readme_python_block_runs_as_a_script_and_without_its_guard_says_why(group_photo, portrait, tmp_path):
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    block = readme.split("## Python\n", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert 'if __name__ == "__main__":' in block
    shutil.copy(group_photo[0], tmp_path / "group.jpg")
    (tmp_path / "media").mkdir()
    shutil.copy(portrait, tmp_path / "media" / "one.jpg")
    unguarded = "\n".join(
        line[4:] if line.startswith("    ") else line for line in block.splitlines() if "__main__" not in line
    )
    for name, script in (("guarded.py", block), ("unguarded.py", unguarded)):
        (tmp_path / name).write_text(script)
    done = subprocess.run([sys.executable, "guarded.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith("1 input (1 image, 0 videos), 1 frame, 1 face")
    shutil.rmtree(tmp_path / "results.parquet.parts", ignore_errors=True)
    (tmp_path / "results.parquet").unlink()
    done = subprocess.run([sys.executable, "unguarded.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == f"RuntimeError: {NO_WORKER_STARTS}"


def test_a_run_resumed_with_an_absolute_path_knows_what_its_relative_path_did(photos, tmp_path, monkeypatch):
    from batchface.output.writers import TableWriter

    monkeypatch.chdir(photos.parent)
    relative, absolute = photos.name, str(photos)
    real, commits = TableWriter.commit, []

    def killed_at_the_third(self, key, rows, tracks=None):
        if len(commits) == 2:
            raise KeyboardInterrupt
        commits.append(key)
        return real(self, key, rows, tracks)

    monkeypatch.setattr(TableWriter, "commit", killed_at_the_third)
    with pytest.raises(Interrupted):
        run([relative], tmp_path / "r.csv", workers=0, progress=False, commit_seconds=0)
    monkeypatch.setattr(TableWriter, "commit", real)
    summary = run([absolute], tmp_path / "r.csv", workers=0, progress=False, resume=True)
    assert summary.resumed == 2 and summary.images == 2  # the other two
    faces = lambda table: sorted((os.path.abspath(r["source"]), r["face_index"] or 0) for r in table)
    run([photos], tmp_path / "whole.csv", workers=0, progress=False)
    assert faces(rows(tmp_path / "r.csv")) == faces(rows(tmp_path / "whole.csv"))  # none lost, none twice
    assert sum(r["source"].startswith(relative) for r in rows(tmp_path / "r.csv")) > 0  # sources as walked


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_a_file_name_that_is_not_utf8_is_carried_in_every_format(portrait, tmp_path, fmt):
    folder = tmp_path / "in"
    folder.mkdir()
    latin1 = os.fsdecode(b"caf\xe9.jpg")  # written on a latin-1 system: not UTF-8
    shutil.copy(portrait, folder / latin1)
    (folder / os.fsdecode(b"\xff.jpg")).write_bytes(b"not a picture")
    shutil.copy(portrait, folder / "plain.jpg")
    out = tmp_path / f"r.{fmt}"
    summary = run([folder], out, workers=1, progress=False, options=Options(annotate=str(tmp_path / "ann")))
    got = rows(out)
    assert [os.path.basename(r["source"]) for r in got] == ["caf\\xe9.jpg", "plain.jpg", "\\xff.jpg"]
    assert [r["status"] for r in got] == ["ok", "ok", "error"] and summary.errors == 1
    assert (tmp_path / "ann" / latin1).exists()  # the copy keeps the real name
    again = run([folder], out, workers=0, progress=False, overwrite=True)
    assert again.inputs == 3 and len(rows(out)) == 3


def test_annotated_copies_go_below_their_argument_and_are_never_read_back(portrait, tmp_path):
    photo = portrait
    for folder, names in (("one", ["x.jpg", "only.jpg"]), ("two", ["x.jpg"])):
        (tmp_path / folder / "sub").mkdir(parents=True)
        for name in names:
            shutil.copy(photo, tmp_path / folder / "sub" / name)
    ann = tmp_path / "one" / "annotated"  # inside an input folder, as is the output
    out = tmp_path / "one" / "faces.parquet"
    for _ in range(2):  # the second run must not analyse the first run's copies, nor its table
        summary = run(
            [tmp_path / "one", tmp_path / "two"],
            f"{out}/",
            options=Options(annotate=str(ann)),
            workers=0,
            progress=False,
            overwrite=True,
        )
        assert summary.inputs == 3
    copies = sorted(str(p.relative_to(ann)) for p in ann.rglob("*.jpg"))
    # the arguments' own names only where two of them hold the same relative path
    assert copies == ["one/sub/x.jpg", "sub/only.jpg", "two/sub/x.jpg"]


def noise_photos(folder: Path, names) -> None:
    """Photos of noise (no face: one ``no_face`` row each)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(names))
    for name in names:  # encoded here: OpenCV cannot open a file name that is not UTF-8
        (folder / name).write_bytes(cv2.imencode(".jpg", rng.integers(0, 255, (120, 160, 3), np.uint8))[1].tobytes())


def killed_at(step: tuple, args: list) -> None:
    """``batchface run ARGS`` killed by SIGKILL at ``step`` (tests/kill_at.py), which must be reached."""
    killer = Path(__file__).with_name("kill_at.py")
    done = subprocess.run(
        [sys.executable, str(killer), *map(str, step), "run", *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == -signal.SIGKILL, f"not killed at {step}: {done.stderr}"


def leftovers(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("r.parquet", ".r.parquet")))


# the steps of a Parquet run that a kill can split: at its start, the folder of parts made before the
# journal; at its end, the parts joined beside the output, the journal saying so, the joined file
# renamed into place, the journal removed, the parts removed
PARQUET_STEPS = [
    ("after", "mkdir", "r.parquet.parts", 1),
    ("before", "replace", "r.parquet.tmp", 1),
    ("after", "replace", "r.parquet.tmp", 1),
    ("before", "unlink", "r.parquet.progress", 1),
    ("after", "unlink", "r.parquet.progress", 1),
    ("after", "unlink", "part-000000.parquet", 1),
    ("after", "rmdir", "r.parquet.parts", 1),
]


@pytest.mark.slow
@pytest.mark.parametrize("step", PARQUET_STEPS, ids=lambda s: "-".join(map(str, s[:3])))
def test_a_kill_at_any_step_of_a_parquet_output_resumes_to_the_whole_table(tmp_path, step):
    names = [f"{i:02d}.jpg" for i in range(12)]
    noise_photos(tmp_path / "in", names)
    args = [tmp_path / "in", "--out", tmp_path / "r.parquet", "-w", "0", "-q", "--commit-seconds", "0"]
    killed_at(step, args)
    done = subprocess.run(
        [sys.executable, "-m", "batchface", "run", *map(str, args), "--resume"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert [os.path.basename(r["source"]) for r in rows(tmp_path / "r.parquet")] == names  # none lost, none twice
    assert leftovers(tmp_path) == ["r.parquet"]


# each step of a --resume that takes up a finished Parquet output: the output linked as the first part
# of the run, the journal written, the parts added, then the steps above
TAKE_UP_STEPS = [
    ("after", "link", "part-000000.parquet", 1),
    ("after", "replace", "r.parquet.progress", 1),
    ("after", "replace", "part-000001.parquet", 1),
    ("after", "replace", "r.parquet.tmp", 1),
    ("after", "unlink", "part-000000.parquet", 1),
]


@pytest.mark.slow
@pytest.mark.parametrize("step", TAKE_UP_STEPS, ids=lambda s: "-".join(map(str, s[:3])))
def test_a_kill_while_a_resume_takes_up_a_finished_table_loses_nothing(tmp_path, step):
    first, then = [f"{i:02d}.jpg" for i in range(6)], [f"{i:02d}.jpg" for i in range(6, 12)]
    noise_photos(tmp_path / "in", first)
    args = [tmp_path / "in", "--out", tmp_path / "r.parquet", "-w", "0", "-q", "--commit-seconds", "0"]
    command = [sys.executable, "-m", "batchface", "run", *map(str, args)]
    assert subprocess.run(command, capture_output=True).returncode == 0
    noise_photos(tmp_path / "in", then)  # new inputs: the resume appends them
    killed_at(step, [*args, "--resume"])
    assert [os.path.basename(r["source"]) for r in rows(tmp_path / "r.parquet")][:6] == first  # still whole
    done = subprocess.run([*command, "--resume"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert [os.path.basename(r["source"]) for r in rows(tmp_path / "r.parquet")] == first + then
    assert leftovers(tmp_path) == ["r.parquet"]


def test_a_finished_table_that_an_older_version_left_in_its_parts_is_resumed_not_refused(tmp_path):
    """batchface before 2026-12 moved a finished Parquet output into ``.parts/`` to resume it: killed
    just then, the table was only there, with no journal."""
    noise_photos(tmp_path / "in", ["a.jpg", "b.jpg"])
    command = [sys.executable, "-m", "batchface", "run", str(tmp_path / "in"), "-o", str(tmp_path / "r.parquet")]
    assert subprocess.run([*command, "-w", "0", "-q"], capture_output=True).returncode == 0
    (tmp_path / "r.parquet.parts").mkdir()
    os.replace(tmp_path / "r.parquet", tmp_path / "r.parquet.parts" / "part-000000.parquet")
    noise_photos(tmp_path / "in", ["c.jpg"])
    done = subprocess.run([*command, "-w", "0", "-q", "--resume"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "2 already done" in done.stderr
    assert [os.path.basename(r["source"]) for r in rows(tmp_path / "r.parquet")] == ["a.jpg", "b.jpg", "c.jpg"]
    assert leftovers(tmp_path) == ["r.parquet"]


def test_each_real_file_is_analysed_once_whatever_spelling_or_link_found_it(tmp_path, monkeypatch):
    noise_photos(tmp_path / "a", ["x.jpg", "y.jpg"])
    (tmp_path / "a" / "link.jpg").symlink_to("x.jpg")  # beside its target: walked first, sorted
    (tmp_path / "list.txt").write_text("./a/x.jpg\na//x.jpg\na/../a/x.jpg\na/y.jpg\n")
    monkeypatch.chdir(tmp_path)
    spellings = ["a/x.jpg", str(tmp_path / "a" / "x.jpg"), "a"]
    summary = run(spellings, "r.csv", files_from="list.txt", workers=0, progress=False)
    assert [r["source"] for r in rows("r.csv")] == ["a/x.jpg", "a/y.jpg"]  # by the first path that found it
    assert (summary.inputs, summary.images) == (2, 2)
    again = run(["a/link.jpg", "./a", str(tmp_path / "a" / "y.jpg")], "r.csv", workers=0, progress=False, resume=True)
    assert (again.inputs, again.resumed, again.images) == (2, 2, 0)
    assert [r["source"] for r in rows("r.csv")] == ["a/x.jpg", "a/y.jpg"]


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_a_resume_of_a_finished_table_knows_its_file_names_that_are_not_utf8(tmp_path, fmt):
    folder = tmp_path / "in"
    latin1 = os.fsdecode(b"caf\xe9.jpg")  # written on a latin-1 system: not UTF-8
    noise_photos(folder, [latin1, "plain.jpg"])
    (folder / os.fsdecode(b"b\xe9.jpg")).symlink_to(latin1)  # a link to it, by a name not UTF-8 either, walked first
    out = tmp_path / f"r.{fmt}"
    assert run([folder], out, workers=0, progress=False).inputs == 2
    again = run([folder], out, workers=0, progress=False, resume=True)
    assert (again.inputs, again.resumed, again.images) == (2, 2, 0)
    assert [os.path.basename(r["source"]) for r in rows(out)] == ["b\\xe9.jpg", "plain.jpg"]  # none twice


def test_annotated_copies_never_replace_an_input_nor_go_through_a_link(tmp_path):
    photos, ann = tmp_path / "photos", tmp_path / "ann"
    noise_photos(photos, ["x.jpg"])
    noise_photos(photos / "sub", ["y.jpg"])
    inputs = {p: p.read_bytes() for p in (photos / "x.jpg", photos / "sub" / "y.jpg")}
    for args, held in (([photos / "x.jpg"], photos / "x.jpg"), ([photos / "sub"], photos / "sub"), ([photos], photos)):
        with pytest.raises(ValueError, match=f"--annotate {photos} holds an input \\({held}\\)"):
            run(args, tmp_path / "r.csv", options=Options(annotate=str(photos)), workers=0, progress=False)
    with pytest.raises(ValueError, match="must be apart"):
        run([photos], f"{ann}/", options=Options(annotate=str(ann)), workers=0, progress=False)
    assert not (tmp_path / "r.csv").exists() and not ann.exists()
    ann.mkdir()
    (ann / "x.jpg").symlink_to(photos / "x.jpg")  # links in the copies' folder lead onto the inputs
    (ann / "sub").symlink_to(photos / "sub")
    summary = run([photos], tmp_path / "r.csv", options=Options(annotate=str(ann)), workers=0, progress=False)
    assert [(r["status"], r["error"]) for r in rows(tmp_path / "r.csv")] == [
        (
            "no_face",
            f"annotated copy not written: OSError: {ann / name} leads through a symbolic link, which a copy "
            "never follows",
        )
        for name in ("sub/y.jpg", "x.jpg")
    ] and summary.errors == 0
    assert {p: p.read_bytes() for p in inputs} == inputs and (ann / "x.jpg").is_symlink()


def test_each_input_gets_its_own_annotated_copy(tmp_path):
    for folder in ("a", "b", "p/a", "q/a"):
        noise_photos(tmp_path / folder, ["x.jpg"])
    noise_photos(tmp_path / "q" / "a", ["x-2.jpg"])
    args = [tmp_path / f for f in ("a/x.jpg", "b/x.jpg", "p/a/x.jpg", "q/a/x.jpg", "q/a/x-2.jpg")]
    run(args, tmp_path / "r.csv", options=Options(annotate=str(tmp_path / "ann")), workers=0, progress=False)
    copies = sorted(str(p.relative_to(tmp_path / "ann")) for p in (tmp_path / "ann").rglob("*.jpg"))
    # named as arguments, the same name: by their folder's name; that shared too, numbered
    assert copies == ["a/x-2.jpg", "a/x-3.jpg", "a/x.jpg", "b/x.jpg", "x-2.jpg"]


def test_an_output_named_like_an_image_inside_an_input_folder_is_never_read_back(tmp_path):
    noise_photos(tmp_path / "in", ["a.jpg", "b.jpg"])
    out = tmp_path / "in" / "table.jpg"
    first = run([tmp_path / "in"], out, fmt="csv", workers=0, progress=False)
    again = run([tmp_path / "in"], out, fmt="csv", workers=0, progress=False, resume=True)
    assert (first.inputs, again.inputs, again.resumed, again.errors) == (2, 2, 2, 0)
    assert [os.path.basename(r["source"]) for r in rows_of_csv(out)] == ["a.jpg", "b.jpg"]


def rows_of_csv(path):
    return read_table(path, "csv").to_pylist()
