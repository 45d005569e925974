"""Face tracks: ids that follow one person through a video, end at a gap or a scene cut, and survive
the cutting of a video into pieces and a resumed run."""

from __future__ import annotations

import collections

import cv2
import numpy as np
import pytest

from batchface.engine.runner import Options, run
from batchface.faces.continuity import GAP_S, Sighting
from batchface.faces.tracking import PieceTracks, Tracker, VideoTracks, is_keyframe
from batchface.media.inputs import Source
from batchface.media.video import VideoReader
from batchface.output.writers import read_table

GRAY = np.full((36, 64, 3), 128, np.uint8)
RED = np.zeros((36, 64, 3), np.uint8)
RED[..., 2] = 200


def frames_of(table) -> dict[int, set]:
    """The track ids of each frame's faces."""
    out = collections.defaultdict(set)
    for row in table:
        if row["track_id"] is not None:
            out[row["frame_index"]].add(row["track_id"])
    return out


def test_a_face_keeps_its_id_while_it_moves_a_little_and_a_new_face_gets_the_next():
    tracker = Tracker()
    assert tracker.update(0.0, GRAY, [(10, 10, 40, 40)]) == [0]
    assert tracker.update(0.04, GRAY, [(14, 12, 40, 40), (200, 10, 40, 40)]) == [0, 1]
    assert tracker.update(0.08, GRAY, [(200, 12, 40, 40), (18, 14, 40, 40)]) == [1, 0]
    assert tracker.update(0.12, GRAY, [(120, 14, 40, 40)]) == [2]  # no overlap: someone else


def test_a_track_ends_after_a_gap_longer_than_gap_s_and_at_a_scene_cut():
    tracker = Tracker()
    tracker.update(0.0, GRAY, [(10, 10, 40, 40)])
    assert tracker.update(GAP_S, GRAY, [(10, 10, 40, 40)]) == [0]  # gone for exactly the gap: kept
    assert tracker.update(2 * GAP_S + 0.01, GRAY, [(10, 10, 40, 40)]) == [1]
    assert tracker.update(2 * GAP_S + 0.05, RED, [(10, 10, 40, 40)]) == [2]  # same place, another scene
    piece = tracker.piece()
    assert [s.id for s in piece.head] == [0, 1, 2] and [s.id for s in piece.tail] == [2] and piece.count == 3


def test_pieces_are_renumbered_for_the_whole_video_and_the_state_survives_the_journal():
    gray = cv2.normalize(cv2.calcHist([GRAY], [0], None, [4], [0, 256]), None).flatten().tolist()
    video = VideoTracks()
    first = PieceTracks(gray, gray, [Sighting(0, 0.0, (10, 10, 40, 40))], [Sighting(0, 2.0, (12, 10, 40, 40))], 1)
    assert video.renumber(first) == {0: 0}
    video = VideoTracks.from_state(video.state())  # as a resumed run reads it back
    # the piece's track 0 opens at the next frame where track 0 of the video was: it continues it
    second = PieceTracks(
        gray,
        gray,
        [Sighting(0, 2.04, (300, 10, 40, 40)), Sighting(1, 2.04, (13, 10, 40, 40))],
        [Sighting(1, 4.0, (13, 10, 40, 40))],
        2,
    )
    assert video.renumber(second) == {1: 0, 0: 1}
    late = PieceTracks(gray, gray, [Sighting(0, 4.0 + GAP_S + 0.1, (13, 10, 40, 40))], [], 1)
    assert video.renumber(late) == {0: 2}  # after a gap: a new id


@pytest.mark.parametrize("every", [1, 3])
def test_each_shot_of_a_video_gives_its_face_one_id_and_no_id_crosses_a_cut(face_video, tmp_path, every):
    video, starts = face_video  # shots: a face, another face, a cup, the first face again
    run([video], tmp_path / "t.parquet", options=Options(every=every), workers=0, progress=False)
    table = read_table(tmp_path / "t.parquet").to_pylist()
    assert [r["frame_index"] for r in table] == list(range(0, 90, every))  # one face or none a frame
    shots = [range(a, b) for a, b in zip(starts, starts[1:] + [90])]
    ids = [{r["track_id"] for r in table if r["frame_index"] in shot} for shot in shots]
    assert ids == [{0}, {1}, {None}, {2}]  # in order of first appearance; after the cup, a new id
    assert all(r["status"] == ("no_face" if r["frame_index"] in shots[2] else "ok") for r in table)


def test_one_person_keeps_one_id_through_a_clip(samples, tmp_path):
    video = samples / "videos" / "0492_03_009_bill_gates.avi"
    run([video], tmp_path / "t.parquet", options=Options(every=2), workers=0, progress=False)
    table = read_table(tmp_path / "t.parquet").to_pylist()
    ids = collections.Counter(r["track_id"] for r in table)
    frames = len({r["frame_index"] for r in table})
    assert frames == 101 and ids.most_common(1)[0] == (0, 101)  # the person: on every sampled frame
    # the rest are hands at the frame's border that the detector takes for faces cut by it, briefly
    assert all(n <= 2 for track, n in ids.items() if track != 0)


@pytest.mark.slow
def test_no_track_crosses_a_scene_cut(samples, tmp_path):
    video = samples / "videos" / "short_hamilton_clip.mp4"
    run([video], tmp_path / "t.parquet", options=Options(), workers=0, progress=False)
    by_frame = frames_of(read_table(tmp_path / "t.parquet").to_pylist())
    for cut in (20, 82, 211):  # the clip's cuts, seen by eye (reports/video.md)
        before = set().union(*(ids for f, ids in by_frame.items() if f < cut))
        after = set().union(*(ids for f, ids in by_frame.items() if f >= cut))
        assert before and after and not before & after, cut
        assert min(after) == max(before) + 1  # ids in order of first appearance
    # within a shot the performer keeps one id (frames 82 to 210: one face, one track)
    assert {frozenset(ids) for f, ids in by_frame.items() if 100 <= f < 170} == {frozenset({9})}


def test_two_clips_joined_give_new_ids_after_the_join(samples, tmp_path):
    size = (320, 240)
    joined = tmp_path / "joined.avi"
    writer = cv2.VideoWriter(str(joined), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, size)
    for path, n in (("0492_03_009_bill_gates.avi", 30), ("short_hamilton_clip.mp4", 20)):
        for k, frame in enumerate(VideoReader(samples / "videos" / path)):
            if k == n:
                break
            writer.write(cv2.resize(frame.image, size, interpolation=cv2.INTER_AREA))
    writer.release()
    run([joined], tmp_path / "t.csv", options=Options(), workers=0, progress=False)
    by_frame = frames_of(read_table(tmp_path / "t.csv").to_pylist())
    first = set().union(*(ids for f, ids in by_frame.items() if f < 30))
    second = set().union(*(ids for f, ids in by_frame.items() if f >= 30))
    assert 0 in first and second and min(second) > max(first)


@pytest.mark.parametrize("every", [1, 5])
def test_faceless_frames_have_no_track(tmp_path, every):
    from corpus import write_video

    video = write_video(tmp_path / "gray.avi", frames=10)
    run([video], tmp_path / "t.csv", options=Options(every=every), workers=0, progress=False)
    table = read_table(tmp_path / "t.csv").to_pylist()
    assert len(table) == 10 // every and all(r["status"] == "no_face" and r["track_id"] is None for r in table)


def counting_whole_frames():
    """The default detector, and a list that grows by one each time it searches a whole frame."""
    from batchface.faces.detection import create_detector

    detector, whole_frames = create_detector("yunet"), []
    detect = detector.detect
    detector.detect = lambda image: whole_frames.append(1) or detect(image)
    return detector, whole_frames


@pytest.mark.parametrize("every", [1, 2, 5])
def test_the_detector_runs_on_the_whole_frame_only_on_the_keyframes_of_a_shot(face_video, every):
    detector, whole_frames = counting_whole_frames()
    tracker = Tracker(detector, every)
    video, starts = face_video
    found = [tracker.find(frame) for frame in VideoReader(video, max_frames=starts[1])]  # the first shot
    assert [ids for _, ids in found] == [[0]] * 30  # the face, found on every frame, keeps id 0
    assert len(whole_frames) == 30 // every  # the face is never lost: the keyframes only


@pytest.mark.parametrize("every", [1, 2, 4])
def test_the_detector_runs_on_the_whole_frame_only_on_keyframes(samples, every):
    detector, whole_frames = counting_whole_frames()
    tracker = Tracker(detector, every)
    frames = list(VideoReader(samples / "videos" / "0492_03_009_bill_gates.avi", max_frames=100))
    found = [tracker.find(frame) for frame in frames]
    person = [ids for _, ids in found if 0 in ids]
    assert len(person) == 100  # the person, found on every frame, keeps id 0
    keyframes = 100 // every
    # keyframes, and the frames where a face was lost (a hand at the border that the detector saw)
    assert keyframes <= len(whole_frames) <= keyframes + 4


def test_keyframes_are_every_kth_sampled_frame_from_the_first():
    assert [is_keyframe(sample, 3) for sample in range(7)] == [True, False, False, True, False, False, True]
    assert all(is_keyframe(sample, 1) for sample in range(5))


@pytest.mark.parametrize(
    ("sampling", "detect_every", "starts"),
    [(dict(every=1), 3, [0, 27, 54, 81]), (dict(every=2), 2, [0, 28, 56, 84]), (dict(fps=10), 3, [0, 30, 60])],
)
def test_a_video_is_cut_into_pieces_at_keyframes(face_video, sampling, detect_every, starts):
    from batchface.engine import plan

    video, _ = face_video
    works = plan.plan([Source(str(video), "video")], Options(detect_every=detect_every, **sampling))
    assert [w.start for w in works] == starts
    reader = VideoReader(video, **sampling)
    assert all(reader.sampled[s] and is_keyframe(int(reader.samples[s]), detect_every) for s in starts)


def test_an_annotated_face_is_labelled_with_its_track_id():
    from batchface.faces.analysis import Face
    from batchface.output.drawing import BOX_COLOR, draw

    image = np.zeros((200, 300, 3), np.uint8)
    face = Face(box=(40.0, 100.0, 60.0, 60.0), score=0.9, emotion="happy", emotion_score=0.9)
    band = lambda drawn: int((drawn[80:98] == BOX_COLOR).all(axis=-1).sum())  # the label above the box
    plain, tracked = draw(image, [face]), draw(image, [face], [7])
    assert band(tracked) > band(plain) > 0  # "#7 happy 0.90" is wider than "happy 0.90"
