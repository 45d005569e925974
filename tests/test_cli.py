"""The command line, through typer's runner and as a real subprocess."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from groundtruth import matched
from typer.testing import CliRunner

from batchface import __version__
from batchface.cli import app
from batchface.output.writers import read_table

cli = CliRunner()


@pytest.fixture()
def folder(portrait, tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(portrait, d / "one.jpg")
    return d


@pytest.fixture(scope="module")
def photo_set(group_photo, tmp_path_factory) -> list[Path]:
    """Eleven photos, as many as ../shared's dlib_faces holds: the shipped ones and crops of the group
    photo, of none to six faces."""
    import cv2
    from shipped import FACELESS, FIXTURES, PORTRAITS

    folder = tmp_path_factory.mktemp("set")
    group = cv2.imread(str(group_photo[0]))
    photos = [FACELESS, group_photo[0]] + [FIXTURES / name for name in PORTRAITS]
    for k, (top, left) in enumerate([(0, 0), (0, 180), (0, 360), (360, 0), (360, 180), (360, 360), (180, 90)]):
        photos.append(folder / f"crop{k}.jpg")
        cv2.imwrite(str(photos[-1]), group[top : top + 360, left : left + 360])
    return photos


@pytest.fixture()
def faceless_folder(tmp_path):
    """One photo without a face, for what does not need the sample photos."""
    import cv2
    import numpy as np

    d = tmp_path / "in"
    d.mkdir()
    cv2.imwrite(str(d / "one.jpg"), np.random.default_rng(0).integers(0, 255, (120, 160, 3), np.uint8))
    return d


def test_run_writes_csv_and_a_summary(folder, tmp_path):
    out = tmp_path / "r.csv"
    result = cli.invoke(app, ["run", str(folder), "--out", str(out), "-w", "0", "-q"])
    assert result.exit_code == 0, result.output
    assert "1 input (1 image, 0 videos), 1 frame, 1 face, 0 skipped, 0 errors" in result.output
    assert [r["status"] for r in read_table(out).to_pylist()] == ["ok"]


def test_min_face_reaches_the_workers_of_a_run_on_a_group_photo(group_photo, tmp_path):
    import pyarrow.parquet as pq

    photo, truth = group_photo  # faces of 56, 88 and 132 px, two each
    out = tmp_path / "r.parquet"
    args = ["run", str(photo), "--out", str(out), "--detector", "blazeface", "-w", "1", "-q"]  # a worker process
    result = cli.invoke(app, args + ["--min-face", "80"])
    assert result.exit_code == 0, result.output
    boxes = [(r["box_x"], r["box_y"], r["box_w"], r["box_h"]) for r in read_table(out).to_pylist()]
    wide = [box for box in truth if box[2] > 80]
    assert len(boxes) == len(wide) == 4 and matched(wide, boxes, threshold=0.6) == 4
    assert json.loads(pq.read_schema(out).metadata[b"batchface"])["options"]["min_face"] == 80
    result = cli.invoke(app, args + ["--min-face", "50", "--resume"])
    assert result.exit_code == 2 and "differ in: options.min_face: 80 -> 50" in " ".join(result.output.split())


def test_min_face_reaches_the_workers_and_the_table_metadata(samples, tmp_path):
    import cv2
    import pyarrow.parquet as pq

    from batchface.faces.detection import create_detector

    photo = samples / "dlib_faces" / "bald_guys.jpg"  # 24 faces of 103-326 px
    out = tmp_path / "r.parquet"
    args = ["run", str(photo), "--out", str(out), "--detector", "blazeface", "-w", "1", "-q"]  # a worker process
    result = cli.invoke(app, args + ["--min-face", "150"])
    assert result.exit_code == 0, result.output
    expected = len(create_detector("blazeface", min_face=150).detect(cv2.imread(str(photo))))
    assert read_table(out).num_rows == expected < 24
    assert json.loads(pq.read_schema(out).metadata[b"batchface"])["options"]["min_face"] == 150
    result = cli.invoke(app, args + ["--min-face", "100", "--resume"])
    assert result.exit_code == 2 and "differ in: options.min_face: 150 -> 100" in " ".join(result.output.split())


def test_the_expression_file_chosen_reaches_the_workers_and_the_table_metadata(group_photo, tmp_path):
    import pyarrow.parquet as pq

    from batchface import Analyzer
    from batchface.faces.models import EXPRESSION_FILES, sha256_of
    from batchface.media.decoding import read_picture

    photo = group_photo[0]
    out = tmp_path / "r.parquet"
    result = cli.invoke(app, ["run", str(photo), "--out", str(out), "--expression", "fer2013-full", "-w", "1", "-q"])
    assert result.exit_code == 0, result.output
    happy = [r["p_happy"] for r in read_table(out).to_pylist()]
    for name, same in (
        ("fer2013-full", True),
        ("fer2013", False),
        ("ferplus", False),
    ):  # in this process, as a worker reads the photo
        analyzer = Analyzer(expression_model=EXPRESSION_FILES[name])
        faces = analyzer.analyze_pictures([read_picture(photo, analyzer.detector.side_needed)])[0]
        assert len(faces) == len(happy) == 6
        assert (happy == pytest.approx([f.probabilities["happy"] for f in faces], abs=1e-6)) == same
    metadata = json.loads(pq.read_schema(out).metadata[b"batchface"])
    assert metadata["options"]["expression"] == "fer2013-full"
    assert metadata["expression_model_sha256"] == sha256_of(EXPRESSION_FILES["fer2013-full"])
    result = cli.invoke(app, ["run", str(photo), "--out", str(out), "--resume", "-w", "0", "-q"])  # the default
    assert result.exit_code == 2 and 'options.expression: "fer2013-full" -> "ferplus"' in " ".join(
        result.output.split()
    )
    listed = json.loads(cli.invoke(app, ["models", "--expression", "fer2013", "--json"]).output)[-1]
    assert listed["file"] == "expression-quick.onnx" and listed["cascade"]["sure"] == 0.6
    listed = json.loads(cli.invoke(app, ["models", "--json"]).output)[-1]
    assert listed["file"] == "expression-ferplus.onnx" and listed["training_targets"] == "FER+ vote shares"
    for expression in ("ferplus", "fer2013", "fer2013-full"):  # what the data is, not where it was on our machines
        keypoints, listed = json.loads(cli.invoke(app, ["models", "--expression", expression, "--json"]).output)[-2:]
        assert keypoints["training_data"] == "Udacity's 68-point keypoint set (YouTube Faces frames), 3,638 faces"
        assert listed["training_data"].startswith(("FER2013 Training, 28,709 faces", "FER+ votes on FER2013 Training"))


def test_exit_status_1_when_an_input_fails(faceless_folder, tmp_path):
    (faceless_folder / "broken.jpg").write_bytes(b"nope")
    result = cli.invoke(app, ["run", str(faceless_folder), "--out", str(tmp_path / "r.jsonl"), "-w", "0", "-q"])
    assert result.exit_code == 1
    assert "1 error in" in result.output


@pytest.mark.parametrize(
    "args,message",
    [
        (["--every", "2", "--fps", "1"], "either every (--every) or fps (--fps)"),
        (["--resume", "--overwrite"], "resume (--resume) and overwrite (--overwrite) exclude each other"),
        (["--format", "xlsx"], "'xlsx' is not one of 'parquet', 'csv', 'jsonl'"),
        (["--detector", "haar"], "'haar' is not one of 'yunet', 'blazeface'"),
    ],
)
def test_usage_errors_exit_2(faceless_folder, tmp_path, args, message):
    result = cli.invoke(app, ["run", str(faceless_folder), "--out", str(tmp_path / "r.csv"), "-w", "0", "-q", *args])
    assert result.exit_code == 2 and message in result.output


def test_a_detector_model_that_is_missing_or_not_a_model_is_a_usage_error(faceless_folder, tmp_path):
    (tmp_path / "text.onnx").write_text("not a model")
    for detector in ("blazeface", "yunet"):
        for path, message in ((tmp_path / "none.onnx", "no such file"), (tmp_path / "text.onnx", "cannot load")):
            result = cli.invoke(
                app,
                [
                    "run",
                    str(faceless_folder),
                    "--out",
                    str(tmp_path / "r.csv"),
                    "-w",
                    "0",
                    "-q",
                    "--detector",
                    detector,
                    "--detector-model",
                    str(path),
                ],
            )
            assert result.exit_code == 2 and message in result.output, result.output
    from batchface.faces.models import KEYPOINTS_FILE  # an ONNX file, but no detector

    for detector in ("blazeface", "yunet"):
        result = cli.invoke(app, ["models", "--detector", detector, "--detector-model", str(KEYPOINTS_FILE)])
        assert result.exit_code == 2 and f"not a face detector made by export/{detector}.py" in result.output
    result = cli.invoke(app, ["models", "--detector", "haar"])
    assert result.exit_code == 2 and "'haar' is not one of 'yunet', 'blazeface'" in result.output


def test_existing_output_is_not_clobbered(faceless_folder, tmp_path):
    out = tmp_path / "r.csv"
    out.write_text("precious")
    args = ["run", str(faceless_folder), "--out", str(out), "-w", "0", "-q"]
    result = cli.invoke(app, args)
    assert result.exit_code == 2 and "--resume" in result.output and out.read_text() == "precious"
    result = cli.invoke(app, args + ["--overwrite"])
    assert result.exit_code == 0 and len(read_table(out)) == 1


def test_files_from_stdin(faceless_folder, tmp_path):
    out = tmp_path / "r.parquet"
    (faceless_folder / "x.txt").write_text("notes")
    result = cli.invoke(
        app,
        ["run", "--files-from", "-", "--out", str(out), "-w", "0", "-q", "--verbose"],
        input=f"{faceless_folder / 'one.jpg'}\n{faceless_folder / 'x.txt'}\n",
    )
    assert result.exit_code == 0, result.output
    assert "skipped (not an image or video)" in result.output
    assert read_table(out).column("source").to_pylist() == [str(faceless_folder / "one.jpg")]


def test_a_named_path_that_is_missing_is_a_usage_error_and_nothing_is_written(faceless_folder, tmp_path):
    out = tmp_path / "new" / "r.csv"
    (tmp_path / "link.jpg").symlink_to(tmp_path / "nowhere.jpg")
    (tmp_path / "list.txt").write_text(f"{faceless_folder / 'one.jpg'}\n{tmp_path / 'gone2.jpg'}\n")
    args = [sys.executable, "-m", "batchface", "run", str(faceless_folder), "--out", str(out), "-w", "0", "-q"]
    for extra, said in (
        ([str(tmp_path / "gone.jpg")], f"{tmp_path / 'gone.jpg'}"),
        (["--files-from", str(tmp_path / "list.txt")], f"{tmp_path / 'gone2.jpg'}"),
        ([str(tmp_path / "link.jpg")], f"{tmp_path / 'link.jpg'} (a broken symbolic link)"),
    ):
        result = subprocess.run(args + extra, capture_output=True, text=True, timeout=120)
        assert result.returncode == 2
        assert result.stderr.splitlines() == [f"batchface: error: no such file or folder: {said}"]
        assert not (tmp_path / "new").exists()  # not even the output's folder
    corrected = subprocess.run(args + [str(faceless_folder / "one.jpg")], capture_output=True, text=True)
    assert corrected.returncode == 0, corrected.stderr


def test_models_lists_files_and_json():
    result = cli.invoke(app, ["models", "--json"])
    assert result.exit_code == 0, result.output
    entries = json.loads(result.output)
    assert [e["name"] for e in entries] == ["detector (yunet)", "detector check (blazeface)", "keypoints", "expression"]
    assert all(len(e["sha256"]) == 64 and Path(e["path"]).is_file() for e in entries)
    keypoints, expression = entries[2:]
    # typed values, in a fixed order: name, file, path, sha256, input, then the metadata by key
    assert list(keypoints)[:5] == ["name", "file", "path", "sha256", "input"]
    assert list(keypoints)[5:] == sorted(list(keypoints)[5:])
    assert keypoints["input_size"] == 96 and len(keypoints["keypoint_names"]) == 68
    assert expression["classes"][0] == "angry" and isinstance(expression["ferplus_majority_accuracy"], float)
    text = cli.invoke(app, ["models"]).output
    assert "detector (yunet): yunet.onnx" in text and "keypoints: keypoints.onnx" in text and "classes:" in text
    alone = json.loads(cli.invoke(app, ["models", "--detector", "blazeface", "--json"]).output)
    assert [e["name"] for e in alone] == ["detector (blazeface)", "keypoints", "expression"]


def test_version():
    assert cli.invoke(app, ["--version"]).output.strip() == f"batchface {__version__}"


def test_as_a_subprocess(folder, tmp_path):
    out = tmp_path / "r.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "batchface", "run", str(folder), "--out", str(out), "--workers", "1"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "1 face," in done.stderr
    assert read_table(out).num_rows == 1


def test_detect_every_reaches_the_run_and_the_help_gives_its_default(faceless_folder, tmp_path):
    import re

    import pyarrow.parquet as pq

    from batchface.engine.runner import Options

    text = re.sub(r"[│\s]+", " ", cli.invoke(app, ["run", "--help"], env={"COLUMNS": "200"}).output)
    assert f"(default {Options().detect_every})" in text
    for args, expected in (([], Options().detect_every), (["--detect-every", "1"], 1)):
        out = tmp_path / f"r{len(args)}.parquet"
        result = cli.invoke(app, ["run", str(faceless_folder), "--out", str(out), "-w", "0", "-q", *args])
        assert result.exit_code == 0, result.output
        assert json.loads(pq.read_schema(out).metadata[b"batchface"])["options"]["detect_every"] == expected
    assert (
        cli.invoke(app, ["run", str(faceless_folder), "-o", str(tmp_path / "x.csv"), "--detect-every", "0"]).exit_code
        == 2
    )


@pytest.mark.parametrize(
    "out, fmt, message",
    [
        ("/proc/batchface.csv", [], "cannot write the output /proc/batchface.csv: No such file or directory"),
        ("{tmp}/a-folder", ["--format", "csv"], "is a folder: a folder output is Parquet"),
    ],
)
def test_an_output_that_cannot_be_written_is_one_line_and_exit_2(faceless_folder, tmp_path, out, fmt, message):
    (tmp_path / "a-folder").mkdir()
    out = out.format(tmp=tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "batchface", "run", str(faceless_folder), "--out", out, "-q", *fmt],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [f"batchface: error: {result.stderr.split('error: ')[1].strip()}"]
    assert message in result.stderr


def test_no_image_or_video_found_is_one_line_and_exit_2(tmp_path):
    empty, other = tmp_path / "empty", tmp_path / "other"
    empty.mkdir()
    other.mkdir()
    (other / "notes.txt").write_text("x")
    (other / ".hidden.jpg").write_text("x")
    for folder, hint in ((empty, ""), (other, " (2 skipped; --verbose lists them)")):
        out = tmp_path / "r.csv"
        result = cli.invoke(app, ["run", str(folder), "--out", str(out)])
        assert result.exit_code == 2 and not out.exists()
        assert " ".join(result.output.split()) == f"batchface: error: no image or video found in {folder}{hint}"


@pytest.mark.parametrize("quiet", [[], ["-q"]])
def test_failed_inputs_are_named_on_the_terminal(faceless_folder, tmp_path, quiet):
    (faceless_folder / "broken.jpg").write_bytes(b"nope")
    out = tmp_path / "r.csv"
    result = subprocess.run(
        [sys.executable, "-m", "batchface", "run", str(faceless_folder), "--out", str(out), "-w", "1", *quiet],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    failed = f"batchface: failed: {faceless_folder / 'broken.jpg'}: not a decodable image"
    assert [line for line in result.stderr.splitlines() if line.startswith("batchface: failed:")] == [
        failed + " (corrupt, truncated or not an image)"
    ]
    assert f"the rows with status 'error' in {out} say why each input failed" in result.stderr


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_out_dash_writes_the_table_to_standard_output(faceless_folder, tmp_path, fmt):
    (faceless_folder / "broken.jpg").write_bytes(b"nope")
    args = [sys.executable, "-m", "batchface", "run", str(faceless_folder), "--out", "-", "--format", fmt, "-w", "1"]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 1, result.stderr  # broken.jpg
    (tmp_path / f"t.{fmt}").write_text(result.stdout)  # the table alone: bar and summary are on stderr
    assert [r["source"] for r in read_table(tmp_path / f"t.{fmt}").to_pylist()] == [
        str(faceless_folder / "broken.jpg"),
        str(faceless_folder / "one.jpg"),
    ]
    assert "-> -" in result.stderr and not list(tmp_path.glob("*progress*"))
    resumed = subprocess.run(args + ["--resume"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert resumed.returncode == 2 and "cannot be resumed" in resumed.stderr


def test_help_is_conventional_flags_choices_and_dash_h():

    from batchface.engine.engines import ENGINES
    from batchface.faces.detection import DETECTORS
    from batchface.output.formats import FORMATS

    text = cli.invoke(app, ["run", "-h"], env={"COLUMNS": "200"}).output
    assert "<bool>" not in text and "--landmarks " in text and "-h, --help" in text
    from batchface.engine.runner import TASK_TIMEOUT

    assert f"[default: {TASK_TIMEOUT}; x>=0.001]" in " ".join(text.split())  # --timeout, as run() has it
    for option, choices in (("--format", FORMATS), ("--detector", DETECTORS), ("--engine", ENGINES)):
        assert f"{option} <{'|'.join(choices)}>" in text
    bad = cli.invoke(app, ["run", "x.jpg", "-o", "r.csv", "--detector", "dlib"])
    assert bad.exit_code == 2 and "'dlib' is not one of" in bad.output


def test_an_out_ending_in_a_slash_is_a_parquet_dataset(faceless_folder, tmp_path):
    result = cli.invoke(app, ["run", str(faceless_folder), "--out", f"{tmp_path / 'faces'}/", "-w", "0", "-q"])
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "faces").iterdir()] == ["part-000000.parquet"]


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                pass
    return found


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for an init that may never reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc (Linux)")
@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "SIGINT"])
def test_a_stopped_run_leaves_no_process_behind_and_resumes(photo_set, tmp_path, how):
    import signal
    import time

    folder = tmp_path / "in"
    folder.mkdir()
    photos = photo_set
    for k in range(24):
        for i, photo in enumerate(photos):
            shutil.copy(photo, folder / f"{k}_{i}.jpg")
    out = tmp_path / "r.csv"
    args = [
        sys.executable,
        "-m",
        "batchface",
        "run",
        str(folder),
        "--out",
        str(out),
        "-w",
        "2",
        "--commit-seconds",
        "0.2",
    ]
    run = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    progress = Path(f"{out}.progress")
    # both workers up and rows committed (a worker still starting up would print Ctrl-C's traceback)
    while not (progress.exists() and len(progress.read_text().splitlines()) >= 3 and len(_children(run.pid)) >= 2):
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.1)
    children = _children(run.pid)
    if how == "SIGINT":  # Ctrl-C at a terminal: the whole process group gets it
        os.killpg(run.pid, signal.SIGINT)
    else:
        run.send_signal(getattr(signal, how))
    status = run.wait(timeout=60)
    stderr = run.stderr.read()
    assert status == {"SIGKILL": -9, "SIGTERM": 143, "SIGINT": 130}[how]
    if how != "SIGKILL":
        assert stderr.strip().splitlines()[-1].endswith("what was done is committed; rerun with --resume to finish")
        assert "Traceback" not in stderr and "SpawnProcess" not in stderr
    deadline = time.monotonic() + 20
    while any(_running(pid) for pid in children):  # the workers and the resource tracker go too
        assert time.monotonic() < deadline, [pid for pid in children if _running(pid)]
        time.sleep(0.1)
    done = subprocess.run(args + ["--resume", "-q"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len({r["source"] for r in read_table(out).to_pylist()}) == 24 * len(photos)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="a file-size limit stands in for a full disk (Linux)")
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_full_disk_is_one_line_exit_2_and_resume_finishes_the_table(photo_set, tmp_path, fmt):
    import resource
    import signal

    folder = tmp_path / "in"
    folder.mkdir()
    for k in range(6):
        for i, photo in enumerate(photo_set):
            shutil.copy(photo, folder / f"{k}_{i}.jpg")
    out = tmp_path / f"r.{fmt}"
    args = [sys.executable, "-m", "batchface", "run", str(folder), "--out", str(out), "-w", "1", "-q"]

    # a file-size limit that the CSV passes midway, and the joined Parquet file (31 kB in one row group)
    # but none of its parts (up to 22 kB; measured 2026-12-06)
    limit = {"csv": 60_000, "parquet": 26_000}[fmt]

    def small_disk():  # writes past the limit fail with EFBIG, as they would with ENOSPC on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    full = subprocess.run(
        args + ["--commit-seconds", "0"], capture_output=True, text=True, timeout=300, preexec_fn=small_disk
    )
    assert full.returncode == 2, full.stderr
    last = full.stderr.strip().splitlines()[-1]
    assert last.startswith(f"batchface: error: writing {out}: ") and "File too large" in last
    assert last.endswith("what was committed is kept: make room and rerun with --resume")
    assert "Traceback" not in full.stderr
    resumed = subprocess.run(args + ["--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "already done" in resumed.stderr  # some inputs were committed before the disk filled
    whole = subprocess.run(args[:6] + [str(tmp_path / f"w.{fmt}")] + args[7:], capture_output=True, timeout=300)
    assert whole.returncode == 0
    key = lambda r: (r["source"], r["face_index"])
    assert sorted(map(key, read_table(out).to_pylist())) == sorted(
        map(key, read_table(tmp_path / f"w.{fmt}").to_pylist())
    )


@pytest.mark.parametrize("given", [None, "4"])
def test_the_command_runs_numpy_on_one_blas_thread_unless_told_otherwise(given):
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    env.update({"OPENBLAS_NUM_THREADS": given} if given else {})
    code = "import os, batchface.cli; print(os.environ['OPENBLAS_NUM_THREADS'])"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == (given or "1")


def test_the_command_script_imports_nothing_of_the_command_line_that_workers_would_import_again():
    # multiprocessing's workers import the script that was run: the command's imports batchface.__main__
    code = "import sys, batchface.__main__; print([m for m in ('typer', 'batchface.cli', 'numpy') if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def _noise_photos(folder: Path, n: int, size=(480, 640)) -> list[str]:
    """``n`` photos of noise (no face: one ``no_face`` row each); their paths, sorted."""
    import cv2
    import numpy as np

    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        cv2.imwrite(str(folder / f"{i:03d}.jpg"), rng.integers(0, 255, (*size, 3), np.uint8))
    return sorted(str(p) for p in folder.iterdir())


def _wait_for(condition, what: str, seconds: float = 120) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.02)


def _committed(out: Path) -> int:
    """Inputs committed in the journal of ``out`` (0 without one)."""
    try:
        lines = Path(f"{out}.progress").read_text().splitlines()[1:]
    except FileNotFoundError:
        return 0
    return sum(len(json.loads(line)["keys"]) for line in lines if line.endswith("}"))


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="SIGSTOP freezes the first run (POSIX)")
def test_one_run_per_output_a_second_run_is_refused_and_touches_nothing(tmp_path):
    import signal

    photos = _noise_photos(tmp_path / "in", 150)
    out = tmp_path / "r.parquet"
    args = [sys.executable, "-m", "batchface", "run", str(tmp_path / "in"), "--out", str(out), "-w", "1", "-q"]
    first = subprocess.Popen(args + ["--commit-seconds", "0"], stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: _committed(out) > 0 or first.poll() is not None, "the first run's first commit")
        first.send_signal(signal.SIGSTOP)  # frozen mid-run, holding the output
        assert 0 < _committed(out) < 150, "the first run must be going"
        before = _snapshot(tmp_path)
        for extra in (["--resume"], ["--overwrite"], []):
            second = subprocess.run(args + extra, capture_output=True, text=True, timeout=120)
            assert second.returncode == 2, second.stderr
            assert second.stderr.strip().splitlines() == [
                f"batchface: error: {out} is being written by another batchface run (process {first.pid}, which "
                f"holds {out}.lock): one run per output at a time; wait for it to end, or stop it and rerun with "
                "resume=True (--resume)"
            ]
        assert _snapshot(tmp_path) == before  # nothing touched
    finally:
        first.send_signal(signal.SIGCONT)
    assert first.wait(timeout=300) == 0, first.stderr.read()
    assert read_table(out).column("source").to_pylist() == photos  # every input once
    assert not Path(f"{out}.lock").exists()


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="SIGSTOP freezes the first run (POSIX)")
def test_a_killed_run_holds_nothing_and_of_two_resumes_one_is_refused(tmp_path):
    import signal

    photos = _noise_photos(tmp_path / "in", 150)
    out = tmp_path / "r.csv"
    args = [sys.executable, "-m", "batchface", "run", str(tmp_path / "in"), "--out", str(out), "-w", "1", "-q"]
    first = subprocess.Popen(args + ["--commit-seconds", "0"], stderr=subprocess.DEVNULL)
    _wait_for(lambda: _committed(out) > 0 or first.poll() is not None, "the first run's first commit")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=60)
    lock = Path(f"{out}.lock")
    assert lock.read_text() == f"{first.pid}\n"  # left behind by the kill, but the OS dropped the lock
    resume = args + ["--resume"]
    one = subprocess.Popen(resume, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: lock.exists() and lock.read_text() == f"{one.pid}\n", "the resume to take the lock")
        one.send_signal(signal.SIGSTOP)
        other = subprocess.run(resume, capture_output=True, text=True, timeout=120)
        assert other.returncode == 2 and f"(process {one.pid}, which holds {lock})" in other.stderr
    finally:
        one.send_signal(signal.SIGCONT)
    assert one.wait(timeout=300) == 0, one.stderr.read()
    assert read_table(out).column("source").to_pylist() == photos  # none lost, none twice


def test_a_file_name_with_a_carriage_return_is_carried_by_csv_and_resumed(tmp_path):
    photos = _noise_photos(tmp_path / "in", 2, size=(60, 80))
    os.rename(photos[0], tmp_path / "in" / "cr\rret.jpg")
    out = tmp_path / "r.csv"
    args = [sys.executable, "-m", "batchface", "run", str(tmp_path / "in"), "--out", str(out), "-w", "0", "-q"]
    assert subprocess.run(args, capture_output=True, timeout=120).returncode == 0
    resumed = subprocess.run(args + ["--resume"], capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert "2 already done" in resumed.stderr
    assert read_table(out).column("source").to_pylist() == [photos[1], str(tmp_path / "in" / "cr\rret.jpg")]


@pytest.mark.parametrize("quiet", [[], ["-q"]])
def test_names_a_spreadsheet_or_a_terminal_would_run_are_written_harmless(tmp_path, quiet):
    formulas = ["=1+1.jpg", "+cmd|' -C calc'!A0.jpg", "@SUM(1).jpg"]  # no "/" in a file's name
    photos = _noise_photos(tmp_path / "in", len(formulas), size=(60, 80))
    for photo, name in zip(photos, formulas):
        os.rename(photo, tmp_path / "in" / name)
    escape = "\x1b]0;TITLE\x07.jpg"  # sets the terminal's title when printed raw
    (tmp_path / "in" / escape).write_bytes(b"not a jpeg")
    args = [sys.executable, "-m", "batchface", "run", *formulas, escape, "--out", "../r.csv", "-w", "0", *quiet]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=tmp_path / "in")
    assert done.returncode == 1 and "\x1b" not in done.stderr and "\x07" not in done.stderr
    assert [line for line in done.stderr.splitlines() if line.startswith("batchface: failed:")] == [
        "batchface: failed: \\x1b]0;TITLE\\x07.jpg: not a decodable image (corrupt, truncated or not an image)"
    ]
    sources = read_table(tmp_path / "r.csv").column("source").to_pylist()
    assert sources == [f"./{n}" for n in formulas] + [escape]  # the same files, as text in a spreadsheet
    resumed = subprocess.run(args + ["--resume"], capture_output=True, text=True, timeout=120, cwd=tmp_path / "in")
    assert resumed.returncode == 1 and "4 already done" in resumed.stderr


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="counts processes in /proc (Linux)")
def test_workers_are_capped_at_a_few_a_cpu_with_a_warning(tmp_path):
    import time

    from batchface.engine.arguments import WORKERS_PER_CPU

    photos = _noise_photos(tmp_path / "in", 40, size=(60, 80))
    out = tmp_path / "r.csv"
    args = [sys.executable, "-m", "batchface", "run", str(tmp_path / "in"), "--out", str(out), "-w", "1000", "-q"]
    run = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    most, deadline = 0, time.monotonic() + 300
    while run.poll() is None:  # the pool's processes (and multiprocessing's resource tracker)
        most = max(most, len(_children(run.pid)))
        assert time.monotonic() < deadline
        time.sleep(0.05)
    cap = WORKERS_PER_CPU * os.cpu_count()
    assert run.returncode == 0 and 0 < most <= cap + 1
    assert run.stderr.read().splitlines()[0] == (
        f"batchface: warning: 1000 workers asked for, {cap} started: at most {WORKERS_PER_CPU} a CPU "
        f"({os.cpu_count()} CPUs here)"
    )
    assert read_table(out).column("source").to_pylist() == photos


def test_the_tests_stop_seam_stops_a_subprocess_run_as_ctrl_c_does_and_resume_finishes(group_photo, tmp_path):
    """``BATCHFACE_TEST_STOP_AFTER=N`` (engine/runner.py): stopped after N committed results, exit 130."""
    import cv2

    from batchface.engine.runner import STOP_AFTER_VARIABLE

    folder = tmp_path / "in"
    folder.mkdir()
    group = cv2.imread(str(group_photo[0]))
    for i in range(3):  # three inputs: a result each, committed one at a time
        cv2.imwrite(str(folder / f"{i}.jpg"), group[:, 240 * i : 240 * (i + 1)])
    out = tmp_path / "r.csv"
    args = [sys.executable, "-m", "batchface", "run", str(folder), "--out", str(out), "-w", "0", "-q"]
    env = {**os.environ, STOP_AFTER_VARIABLE: "2"}
    stopped = subprocess.run(args + ["--commit-seconds", "0"], capture_output=True, text=True, env=env, timeout=300)
    assert stopped.returncode == 130, stopped.stderr
    assert stopped.stderr.strip().splitlines()[-1].endswith("rerun with --resume to finish")
    assert {r["source"] for r in read_table(out).to_pylist()} == {str(folder / "0.jpg"), str(folder / "1.jpg")}
    done = subprocess.run(args + ["--resume"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "2 already done" in done.stderr, done.stderr
    assert len({r["source"] for r in read_table(out).to_pylist()}) == 3


def readme_section(title: str) -> str:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    return readme.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_first_run_shows_what_the_command_writes(tmp_path):
    """The README's first run, on the photos this checkout ships: its summary line (but the time) and
    the rows its table shows, as the command gives them; then its pandas block reads the table."""
    from shipped import FIXTURES

    section = readme_section("A first run")
    command = section.split("```console\n$ ", 1)[1].split("\n", 1)[0]
    shown_line = section.split(command + "\n", 1)[1].split("\n", 1)[0]
    shutil.copytree(FIXTURES, tmp_path / "tests" / "fixtures")
    args = [sys.executable, "-m", "batchface", *command.split()[1:]]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.split(" in ")[0] == shown_line.split(" in ")[0] and line.endswith("-> faces.csv")

    table = [r for r in section.splitlines() if r.startswith("| ")]
    columns = [c.strip() for c in table[0].strip("|").split("|")]
    shown = [[c.strip() for c in r.strip("|").split("|")] for r in table[2:]]  # after the header and its rule
    rows = read_table(tmp_path / "faces.csv").to_pylist()
    decimals = {"emotion_score": 2}

    def cell(row, c):
        v = row[c]
        return "" if v is None else f"{v:.{decimals.get(c, 1)}f}" if isinstance(v, float) else str(v)

    assert shown == [[cell(r, c) for c in columns] for r in rows]
    assert f"some of its {len(rows[0])} columns" in section.replace("\n", " ")

    subprocess.run(
        [sys.executable, "-m", "batchface", "run", "tests/fixtures", "--out", "faces.parquet", "-q"],
        check=True,
        cwd=tmp_path,
        timeout=120,
    )
    block = readme_section("Reading the table").split("```python\n", 1)[1].split("```", 1)[0]
    read = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert read.returncode == 0, read.stderr
    assert read.stdout.split() == ["emotion", "happy", "1", "neutral", "1", "dtype:", "int64"]
