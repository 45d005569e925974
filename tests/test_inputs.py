import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from corpus import png_header_only, write_video

from batchface.errors import InputError
from batchface.media.decoding import read_image, read_picture
from batchface.media.inputs import media_type_of, read_paths_file, walk
from batchface.media.video import VideoReader


def touch(path: Path, content: bytes = b"x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_walk_sorted_recursive_skips_hidden_and_other_files(tmp_path):
    for name in ["b.jpg", "a.PNG", "sub/c.mp4", "sub/.hidden.jpg", ".git/x.jpg", "notes.txt", "z/y.webm"]:
        touch(tmp_path / name)
    skipped = []
    got = [(os.path.relpath(s.path, tmp_path), s.media_type) for s in walk([tmp_path], skipped)]
    assert got == [("a.PNG", "image"), ("b.jpg", "image"), ("sub/c.mp4", "video"), ("z/y.webm", "video")]
    assert [(os.path.relpath(p, tmp_path), why) for p, why in skipped] == [
        (".git", "hidden"),  # listed by --verbose
        ("notes.txt", "not an image or video"),
        ("sub/.hidden.jpg", "hidden"),
    ]


def test_a_folder_that_cannot_be_listed_is_skipped_and_said(tmp_path, monkeypatch):
    """Tests run as root here, whom chmod does not stop: the refusal is os.scandir's, as it would be."""
    touch(tmp_path / "open" / "a.jpg")
    touch(tmp_path / "shut" / "b.jpg")
    scandir = os.scandir

    def refusing(path):
        if os.path.basename(path) == "shut":
            raise PermissionError(13, "Permission denied", path)
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    skipped = []
    assert [os.path.relpath(s.path, tmp_path) for s in walk([tmp_path], skipped)] == ["open/a.jpg"]
    assert skipped == [(str(tmp_path / "shut"), "a folder that cannot be listed: Permission denied")]


def test_content_decides_and_a_folder_named_like_an_image_is_walked(tmp_path):
    png = cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))[1].tobytes()
    touch(tmp_path / "x.jpg" / "inner.png", png)
    touch(tmp_path / "video.jpg", b"\x00\x00\x00\x18ftypisom" + b"\x00" * 64)
    got = {os.path.relpath(s.path, tmp_path): s.media_type for s in walk([tmp_path])}
    assert got == {"video.jpg": "video", "x.jpg/inner.png": "image"}
    assert media_type_of(tmp_path / "x.jpg" / "inner.png") == "image"


def test_symlink_loops_are_walked_once_and_broken_links_are_reported(tmp_path):
    touch(tmp_path / "d" / "a.jpg")
    (tmp_path / "d" / "loop").symlink_to(tmp_path / "d")
    (tmp_path / "d" / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    got = [os.path.relpath(s.path, tmp_path) for s in walk([tmp_path])]
    assert got == ["d/a.jpg", "d/gone.jpg"]
    with pytest.raises(InputError, match="broken symbolic link"):
        read_image(tmp_path / "d" / "gone.jpg")


def test_files_from_reads_lines_and_stdin(tmp_path, monkeypatch):
    import io

    listing = touch(tmp_path / "list.txt", b"a.jpg\n\nsub dir/b.png\r\n")
    assert read_paths_file(listing) == ["a.jpg", "sub dir/b.png"]
    monkeypatch.setattr("sys.stdin", io.StringIO("x.mp4\n"))
    assert read_paths_file("-") == ["x.mp4"]


def test_sixteen_bit_alpha_and_gray_become_8_bit_bgr(tmp_path):
    base = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    for name, img in [
        ("a.png", base.astype(np.uint16) * 257),
        ("b.png", cv2.cvtColor(base, cv2.COLOR_BGR2BGRA)),
        ("c.png", base[..., 0]),
    ]:
        cv2.imwrite(str(tmp_path / name), img)
        out = read_image(tmp_path / name)
        assert out.dtype == np.uint8 and out.shape == (20, 30, 3)
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), base)


def test_exif_orientation_is_applied(tmp_path):
    from PIL import Image

    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = 255  # stored: left half white, 40 wide x 20 high
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(pixels).save(tmp_path / "phone.jpg", exif=exif.tobytes(), quality=95)
    shown = read_image(tmp_path / "phone.jpg")
    assert shown.shape[:2] == (40, 20)  # displayed upright: 20 wide x 40 high
    assert shown[:15].mean() > 200 and shown[25:].mean() < 50  # the white half is now on top


def test_a_large_jpeg_is_decoded_no_larger_than_needed(tmp_path):
    from PIL import Image

    pixels = np.random.default_rng(0).integers(0, 255, (1601, 2403, 3), np.uint8)
    Image.fromarray(pixels).save(tmp_path / "big.jpg", quality=90)
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed turned: 1601 wide, 2403 high
    Image.fromarray(pixels).save(tmp_path / "turned.jpg", exif=exif.tobytes(), quality=90)
    cv2.imwrite(str(tmp_path / "big.png"), pixels)
    cases = {
        ("big.jpg", 960): (801, 1202, 2403, 1601),  # reduced by 2: 1202 >= 960, by 4 it would be 601
        ("big.jpg", 500): (401, 601, 2403, 1601),  # by 4
        ("big.jpg", 2000): (1601, 2403, 2403, 1601),  # not reduced
        ("turned.jpg", 960): (1202, 801, 1601, 2403),
        ("big.png", 300): (1601, 2403, 2403, 1601),
    }  # only JPEGs are decoded reduced
    for (name, side), (h, w, width, height) in cases.items():
        picture = read_picture(tmp_path / name, lambda width, height, side=side: side)
        assert picture.image.shape[:2] == (h, w) and (picture.width, picture.height) == (width, height), name
        assert picture.reduced == (h != height)
        assert picture.full().image.shape[:2] == (height, width)
    assert read_picture(tmp_path / "big.jpg").image.shape[:2] == (1601, 2403)
    np.testing.assert_allclose(read_picture(tmp_path / "big.jpg", lambda w, h: 960).scale, (2403 / 1202, 1601 / 801))


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    bomb = touch(tmp_path / "bomb.png", png_header_only(15000, 15000))  # 2.25e8 pixels: over our limit only
    with pytest.raises(InputError, match="too large"):
        read_image(bomb)
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "small.jpg")
    data = bytearray((tmp_path / "small.jpg").read_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = (15000).to_bytes(2, "big") * 2  # the header claims 15000 x 15000
    (tmp_path / "bomb.jpg").write_bytes(bytes(data))
    for side_needed in (None, lambda w, h: 960):
        with pytest.raises(InputError, match="too large"):
            read_picture(tmp_path / "bomb.jpg", side_needed)


@pytest.mark.parametrize("content,message", [(b"", "empty file"), (b"hello" * 100, "not a decodable image")])
def test_unreadable_images_say_why(tmp_path, content, message):
    with pytest.raises(InputError, match=message):
        read_image(touch(tmp_path / "x.jpg", content))


def test_video_every_nth_frame_with_timestamps(tmp_path):
    video = write_video(tmp_path / "v.avi", frames=50, fps=25)
    frames = list(VideoReader(video, every=10))
    assert [f.index for f in frames] == [0, 10, 20, 30, 40]
    assert [f.timestamp_s for f in frames] == [0.0, 0.4, 0.8, 1.2, 1.6]
    assert [round(f.image.mean() / 4) for f in frames] == [0, 10, 20, 30, 40]  # the right frames decoded


def test_video_fps_sampling_and_max_frames(tmp_path):
    video = write_video(tmp_path / "v.avi", frames=50, fps=25)
    assert [f.index for f in VideoReader(video, fps=2)] == [0, 13, 25, 38]
    assert [f.index for f in VideoReader(video, every=3, max_frames=4)] == [0, 3, 6, 9]
    assert VideoReader(video, fps=2).sample_fps == 2


def test_corrupt_and_empty_video_are_refused(tmp_path):
    with pytest.raises(InputError, match="empty file"):
        VideoReader(touch(tmp_path / "e.mp4", b""))
    with pytest.raises(InputError, match="not a decodable video"):
        VideoReader(touch(tmp_path / "c.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 5000))


def test_fps_above_the_video_rate_keeps_every_frame_up_to_max_frames(tmp_path):
    video = write_video(tmp_path / "v.avi", frames=20, fps=25)
    assert [f.index for f in VideoReader(video, fps=50, max_frames=4)] == [0, 1, 2, 3]
    assert [f.index for f in VideoReader(video, fps=50)] == list(range(20))


def test_a_segment_reads_the_same_frames_as_the_whole(tmp_path):
    video = write_video(tmp_path / "v.avi", frames=50, fps=25)
    whole = [(f.index, int(f.image.mean())) for f in VideoReader(video, fps=3)]
    pieces = [
        (f.index, int(f.image.mean()))
        for a, b in ((0, 17), (17, 34), (34, None))
        for f in VideoReader(video, fps=3, start=a, stop=b)
    ]
    assert pieces == whole and [i for i, _ in whole] == [0, 9, 17, 25, 34, 42]


def test_a_named_pipe_is_skipped_not_read(tmp_path):
    import subprocess
    import sys

    os.mkfifo(tmp_path / "x.mp4")  # opening it to read would wait for a writer forever
    touch(tmp_path / "y.jpg")
    skipped = []
    assert [os.path.basename(s.path) for s in walk([tmp_path], skipped)] == ["y.jpg"]
    assert skipped == [(str(tmp_path / "x.mp4"), "not a regular file")]
    assert list(walk([tmp_path / "x.mp4"], skipped)) == []  # named, too
    done = subprocess.run(
        [sys.executable, "-m", "batchface", "run", str(tmp_path), "-o", str(tmp_path / "r.csv"), "-w", "1", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (
        done.returncode == 1
        and "1 input (1 image, 0 videos)" in done.stderr
        and "1 skipped (1 not a regular file)" in done.stderr
    )


def test_a_folder_980_levels_deep_is_walked(tmp_path):
    """Deeper than Python's recursion limit allows a recursive walk; made with folder descriptors,
    since os.makedirs recurses too."""
    fd = os.open(tmp_path, os.O_RDONLY)
    for _ in range(980):
        os.mkdir("d", dir_fd=fd)
        inner = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(os.open("deep.jpg", os.O_WRONLY | os.O_CREAT, dir_fd=fd))
    (tmp_path / "top.jpg").write_bytes(b"x")
    try:
        got = [s.relative for s in walk([tmp_path])]
        assert got == ["d/" * 980 + "deep.jpg", "top.jpg"]
    finally:  # taken down level by level too: pytest's clean-up of old folders recurses
        os.unlink("deep.jpg", dir_fd=fd)
        for _ in range(980):
            parent = os.open("..", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            os.rmdir("d", dir_fd=parent)
            fd = parent
        os.close(fd)


def test_a_large_file_is_held_once_and_a_bomb_is_refused_unread(tmp_path):
    """A 256 MiB file that starts as a small JPEG (the rest trailing bytes, which JPEG readers skip),
    and the same behind a header declaring 15000 x 15000 pixels: the peak memory of reading each in a
    fresh process, past what the imports took."""
    import subprocess
    import sys

    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "small.jpg")
    head = bytearray((tmp_path / "small.jpg").read_bytes())
    size = 256 * 2**20
    for name, data in (("large.jpg", bytes(head)), ("bomb.jpg", None)):
        if data is None:  # the same file, its header claiming 15000 x 15000
            sof = head.index(b"\xff\xc0")
            head[sof + 5 : sof + 9] = (15000).to_bytes(2, "big") * 2
            data = bytes(head)
        with open(tmp_path / name, "wb") as f:
            f.write(data)
            f.truncate(size)
    code = (
        "import resource, sys\n"
        "from batchface.media.decoding import read_picture\n"
        "from batchface.errors import InputError\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    print(read_picture(sys.argv[1]).image.shape, end=' ')\n"
        "except InputError as e:\n"
        "    print(str(e)[:18], end=' ')\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)\n"
    )
    for name, said, most in (("large.jpg", "(8, 8, 3)", 1.25 * size), ("bomb.jpg", "image too large", 16 * 2**20)):
        done = subprocess.run([sys.executable, "-c", code, str(tmp_path / name)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        *what, grown = done.stdout.split(" ")
        assert " ".join(what).startswith(said) and int(grown) < most, (name, done.stdout)
