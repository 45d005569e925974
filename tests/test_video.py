"""Video decoding on clips written here with PyAV, each frame showing its number as a barcode
(tests/clips.py): frame identity, presentation times, pieces, sampling by time, damage and truncation."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from clips import constant, damage, read_barcode, truncate, variable, write_clip

from batchface.errors import InputError
from batchface.media.video import VideoReader

ROOT = Path(__file__).resolve().parents[1]
VFR = variable([(30, 40), (20, 30), (30, 40)])  # 110 frames: 30 fps, then 20, then 30


def encoder_exists(name: str) -> bool:
    import av

    try:
        av.Codec(name, "w")
    except Exception:
        return False
    return True


AV1 = next((name for name in ("libsvtav1", "libaom-av1", "librav1e") if encoder_exists(name)), None)
OPEN_GOP = {"crf": "18", "preset": "medium", "bf": "3", "x264-params": "open-gop=1"}

CLIPS = {  # name: (write_clip's arguments, the frames' times)
    "cfr.mp4": (dict(times_s=constant(100)), constant(100)),
    "vfr.mp4": (dict(times_s=VFR), VFR),
    "vfr.mkv": (dict(times_s=VFR, fmt="matroska"), VFR),
    "bframes_open_gop.mp4": (dict(times_s=constant(120), options=OPEN_GOP, gop=50), constant(120)),
    # the video 2 s after the audio: an edit list delays it; a player shows frame 0 at 2 s
    "late_start.mp4": (dict(times_s=constant(60, start_s=2.0), audio_s=4.0), constant(60, start_s=2.0)),
    "cfr.webm": (dict(times_s=constant(100), fmt="webm"), constant(100)),
    "mjpeg.avi": (dict(times_s=constant(100), fmt="avi"), constant(100)),
}


def read(path, **sampling) -> list[tuple[int, float, int]]:
    """(index, timestamp_s, the frame's barcode) of each frame read."""
    return [(f.index, f.timestamp_s, read_barcode(f.image)) for f in VideoReader(path, **sampling)]


def in_pieces(path, cuts, **sampling) -> list[tuple[int, float, int]]:
    got = []
    for start, stop in zip(cuts, cuts[1:] + [None]):
        got += read(path, start=start, stop=stop, **sampling)
    return got


def assert_frames(got, times, indices=None):
    """Each frame read is the frame its index says, at its time (within 1 ms), each once."""
    indices = list(range(len(times))) if indices is None else indices
    assert [i for i, _, _ in got] == indices
    assert [b for _, _, b in got] == indices  # the picture is the frame the index names
    assert [t for _, t, _ in got] == pytest.approx([times[i] for i in indices], abs=1e-3)


@pytest.mark.parametrize("name", CLIPS)
def test_every_frame_once_at_its_presentation_time_whole_and_in_pieces(tmp_path, name):
    arguments, times = CLIPS[name]
    clip = write_clip(tmp_path / name, **arguments)
    whole = read(clip)
    assert_frames(whole, times)
    assert in_pieces(clip, [0, 7, 33, 34, 71]) == whole  # cuts that fall inside GOPs, and a piece of one frame
    assert VideoReader(clip).problems == []


def test_the_b_frame_clip_has_b_frames_and_an_edit_list(tmp_path):
    clip = write_clip(tmp_path / "b.mp4", constant(120), options=OPEN_GOP, gop=50)
    timeline = VideoReader(clip).timeline
    assert timeline.delay > 0  # frames decoded before they are shown: B-frames
    assert int(timeline.pts[0]) == 0  # the edit list hides the decoding delay


@pytest.mark.skipif(AV1 is None, reason="no AV1 encoder in this FFmpeg (libsvtav1, libaom-av1, rav1e)")
def test_av1_decodes(tmp_path):
    clip = write_clip(tmp_path / "av1.mp4", constant(40), codec=AV1, options={})
    assert_frames(read(clip), constant(40))
    assert in_pieces(clip, [0, 13]) == read(clip)


def test_a_portrait_phone_clip_is_turned_upright(tmp_path):
    # stored landscape 160 x 96, shown turned a quarter counter-clockwise: 96 wide, 160 high
    clip = write_clip(tmp_path / "phone.mp4", constant(30), rotation=90)
    frames = list(VideoReader(clip))
    assert {f.image.shape for f in frames} == {(160, 96, 3)}
    assert [read_barcode(np.rot90(f.image, -1)) for f in frames] == list(range(30))


def test_fps_keeps_the_first_frame_at_or_after_each_second_of_presentation_time(tmp_path):
    times = variable([(30, 45), (7, 10), (30, 45)])  # 1.5 s at 30 fps, 1.43 s at 7, 1.5 s at 30
    clip = write_clip(tmp_path / "vfr.mp4", times)
    expected = [next(i for i, t in enumerate(times) if t >= k - 1e-9) for k in range(5) if k <= times[-1]]
    got = read(clip, fps=1)
    assert [i for i, _, _ in got] == expected == [0, 30, 49, 58, 88]
    assert [f.sample for f in VideoReader(clip, fps=1)] == [0, 1, 2, 3, 4]
    assert in_pieces(clip, [0, 49, 58], fps=1) == got
    assert [i for i, _, _ in read(clip, every=25)] == [0, 25, 50, 75]


@pytest.mark.parametrize(
    "name,fmt,layout",
    [
        ("d.mp4", "mp4", {}),
        ("d_faststart.mp4", "mp4", {"movflags": "+faststart"}),
        ("d.mkv", "matroska", {}),
        ("d.webm", "webm", {}),
        ("d.avi", "avi", {}),
    ],
)
def test_damage_is_told_and_no_frame_is_mislabelled(tmp_path, name, fmt, layout):
    clip = damage(write_clip(tmp_path / name, constant(600), fmt=fmt, container_options=layout), size=8 * 1024)
    reader = VideoReader(clip)
    got = [(f.index, f.timestamp_s, read_barcode(f.image)) for f in reader]
    decoded = [i for i, _, _ in got]
    assert 450 < len(got) < 600  # frames after the damage are read too
    assert_frames(got, constant(600), decoded)
    lost = sorted(set(range(600)) - set(decoded))
    assert [p.message for p in reader.problems] == [
        f"frames {a}-{b} could not be decoded (0:{a / 25:05.2f} to 0:{b / 25:05.2f})" for a, b in spans(lost)
    ]
    assert [p.index for p in reader.problems] == [a for a, _ in spans(lost)]
    assert in_pieces(clip, [0, 150, 300, 310, 450]) == got


def spans(indices):
    runs = []
    for i in indices:
        if runs and runs[-1][1] == i - 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return [tuple(r) for r in runs]


@pytest.mark.parametrize(
    "name,fmt,layout",
    [
        ("t_faststart.mp4", "mp4", {"movflags": "+faststart"}),
        ("t.mkv", "matroska", {}),
        ("t.webm", "webm", {}),
        ("t.avi", "avi", {}),
    ],
)
def test_a_truncated_file_says_where_it_ends(tmp_path, name, fmt, layout):
    clip = truncate(write_clip(tmp_path / name, constant(600), fmt=fmt, container_options=layout))
    reader = VideoReader(clip)
    got = [(f.index, f.timestamp_s, read_barcode(f.image)) for f in reader]
    assert 250 < len(got) < 350
    assert_frames(got, constant(600), list(range(len(got))))
    (problem,) = reader.problems
    assert re.fullmatch(
        r"the file ends at 0:1\d\.\d\d of 0:24\.00(: frames? [\d-]+ could not be decoded)?", problem.message
    )
    assert problem.message.startswith(f"the file ends at 0:{len(got) / 25:05.2f}")


def test_a_truncated_mp4_without_its_index_is_refused(tmp_path):
    clip = truncate(write_clip(tmp_path / "t.mp4", constant(100)))  # the index (moov) was at the end
    with pytest.raises(InputError, match="not a decodable video"):
        VideoReader(clip)


def test_an_audio_only_file_has_no_video_stream(tmp_path):
    import av

    with av.open(str(tmp_path / "a.mp4"), "w") as out:
        stream = out.add_stream("aac", rate=48000)
        stream.layout = "mono"
        for k in range(20):
            chunk = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts = 48000, k * 1024
            out.mux(stream.encode(chunk))
        out.mux(stream.encode())
    with pytest.raises(InputError, match="^no video stream$"):
        VideoReader(tmp_path / "a.mp4")


def test_the_sample_clip_starts_when_a_player_shows_it(samples):
    # its video's first frame is 0.844 s after the container's start (its audio starts at 0.008 s)
    frames = VideoReader(samples / "videos" / "short_hamilton_clip.mp4", every=100)
    assert [(f.index, round(f.timestamp_s, 3)) for f in frames] == [(0, 0.844), (100, 4.181), (200, 7.517)]


def test_the_cli_gives_one_row_a_decodable_frame_and_exits_1_on_damage(tmp_path):
    (tmp_path / "in").mkdir()
    write_clip(tmp_path / "in" / "vfr.mkv", VFR, fmt="matroska")
    clip = damage(write_clip(tmp_path / "in" / "damaged.mp4", constant(300), gop=25), size=4 * 1024)
    lost = sorted(set(range(300)) - {f.index for f in VideoReader(clip)})
    done = subprocess.run(
        [sys.executable, "-m", "batchface", "run", str(tmp_path / "in"), "--out", str(tmp_path / "r.csv")],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert done.returncode == 1, done.stderr
    with open(tmp_path / "r.csv", newline="") as f:
        table = list(csv.DictReader(f))
    damaged = [r for r in table if r["source"].endswith("damaged.mp4")]
    errors = [r for r in damaged if r["status"] == "error"]
    assert [r["error"] for r in errors] == [
        f"frames {a}-{b} could not be decoded" + f" (0:{a / 25:05.2f} to 0:{b / 25:05.2f})" for a, b in spans(lost)
    ]
    frames = [int(r["frame_index"]) for r in damaged if r["status"] != "error"]
    assert frames == sorted(set(range(300)) - set(lost))  # one row a frame (no faces here), each once
    vfr = [r for r in table if r["source"].endswith("vfr.mkv")]
    assert [int(r["frame_index"]) for r in vfr] == list(range(110))
    assert [float(r["timestamp_s"]) for r in vfr] == pytest.approx(VFR, abs=1e-3)
    assert "damaged.mp4" in done.stderr and "could not be decoded" in done.stderr
