import json
import math
import re

import pyarrow as pa
import pytest

from batchface.output import parquet
from batchface.output.formats import format_of
from batchface.output.journal import whole
from batchface.output.table import KAGGLE_COLUMNS, schema
from batchface.output.writers import TableWriter, read_table

CLASSES = ("angry", "happy")


def rows_for(source, n):
    out = []
    for i in range(n):
        row = {name: None for name in schema(CLASSES).names}
        row.update(
            source=source,
            media_type="image",
            frame_index=0,
            width=640,
            height=480,
            face_index=i,
            status="ok",
            box_x=1.5 + i,
            box_y=2.0,
            box_w=30.0,
            box_h=31.0,
            det_score=0.9,
            emotion="happy",
            emotion_score=0.75,
            p_angry=0.25,
            p_happy=0.75,
        )
        row.update({c: float(k) for k, c in enumerate(KAGGLE_COLUMNS)})
        out.append(row)
    return out


def test_schema_names_and_order():
    names = schema(CLASSES, ["jaw_00"]).names
    assert names[:15] == [
        "source",
        "media_type",
        "frame_index",
        "timestamp_s",
        "width",
        "height",
        "face_index",
        "track_id",
        "status",
        "error",
        "box_x",
        "box_y",
        "box_w",
        "box_h",
        "det_score",
    ]
    assert names[15:19] == ["yaw_deg", "pitch_deg", "roll_deg", "pose_error"]
    assert (
        names[19:49] == KAGGLE_COLUMNS and names[19] == "left_eye_center_x" and names[48] == "mouth_center_bottom_lip_y"
    )
    assert names[49:] == ["emotion", "emotion_score", "p_angry", "p_happy", "lm_jaw_00_x", "lm_jaw_00_y"]


@pytest.mark.parametrize(
    "name,fmt",
    [("a.parquet", "parquet"), ("a.csv", "csv"), ("a.jsonl", "jsonl"), ("a.ndjson", "jsonl"), ("a.PQ", "parquet")],
)
def test_format_from_extension(name, fmt):
    assert format_of(name) == fmt


def test_unknown_extension_asks_for_format():
    with pytest.raises(ValueError, match="--format"):
        format_of("out.xlsx")
    assert format_of("out.xlsx", "csv") == format_of("-") == "csv" and format_of("-", "jsonl") == "jsonl"


@pytest.mark.parametrize(
    "out,fmt,message",
    [
        ("x.csv", "parquet", "--format parquet does not match 'x.csv', a csv file name"),
        ("x.json", None, "which is not one JSON value: name it .jsonl or .ndjson"),
        ("-", "parquet", "standard output"),
        ("x.csv", "xml", "unknown format"),
    ],
)
def test_formats_that_would_surprise_are_refused(out, fmt, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        format_of(out, fmt)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_every_format_round_trips_the_same_rows(tmp_path, fmt):
    out = tmp_path / f"r.{fmt}"
    w = TableWriter(out, fmt, schema(CLASSES), {"batchface_version": "test"})
    expected = rows_for("a.jpg", 2) + rows_for("b é.jpg", 1)
    w.commit(whole("a.jpg"), expected[:2])
    w.commit(whole("b é.jpg"), expected[2:])
    w.close()
    table = read_table(out)
    assert table.column_names == schema(CLASSES).names
    got = table.to_pylist()
    assert len(got) == 3
    for g, e in zip(got, expected):
        for key, value in e.items():
            if value is None:
                assert g[key] is None or (isinstance(g[key], float) and math.isnan(g[key])), key
            else:
                assert g[key] == value, key
    assert not (tmp_path / f"r.{fmt}.progress").exists() and not (tmp_path / f"r.{fmt}.parts").exists()
    if fmt == "parquet":
        meta = json.loads(pa.parquet.read_schema(out).metadata[b"batchface"])
        assert meta == {"batchface_version": "test"}


def test_jsonl_writes_null_for_nan(tmp_path):
    w = TableWriter(tmp_path / "r.jsonl", "jsonl", schema(CLASSES))
    row = rows_for("a.jpg", 1)[0]
    row["p_angry"] = float("nan")
    w.commit(whole("a.jpg"), [row])
    w.close()
    assert json.loads((tmp_path / "r.jsonl").read_text())["p_angry"] is None


def test_existing_output_needs_resume_or_overwrite(tmp_path):
    (tmp_path / "r.csv").write_text("x")
    with pytest.raises(FileExistsError, match="--resume"):
        TableWriter(tmp_path / "r.csv", "csv", schema(CLASSES))


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_resume_drops_what_came_after_the_last_commit(tmp_path, fmt, monkeypatch):
    out = tmp_path / f"r.{fmt}"
    w = TableWriter(out, fmt, schema(CLASSES))
    w.commit(whole("a.jpg"), rows_for("a.jpg", 2))
    w.flush()
    # a kill in the middle of the next write: data half written, journal line torn
    if fmt == "parquet":

        def killed(path):
            raise KeyboardInterrupt

        w.commit(whole("b.jpg"), rows_for("b.jpg", 1))
        monkeypatch.setattr(parquet, "fsync", killed)
        with pytest.raises(KeyboardInterrupt):
            w.flush()
        monkeypatch.undo()
        # the part being written is hidden from readers of the folder, who see what was committed
        import pyarrow.dataset as ds

        assert ds.dataset(tmp_path / f"r.{fmt}.parts").to_table().column("source").to_pylist() == ["a.jpg"] * 2
    else:
        with open(out, "a") as f:
            f.write("b.jpg,image,0,partial line")
    with open(tmp_path / f"r.{fmt}.progress", "a") as f:
        f.write('{"keys": ["b.jp')
    w.journal.close()

    resumed = TableWriter(out, fmt, schema(CLASSES), resume=True)
    assert resumed.done == [whole("a.jpg")]
    resumed.commit(whole("b.jpg"), rows_for("b.jpg", 1))
    resumed.close()
    assert [r["source"] for r in read_table(out).to_pylist()] == ["a.jpg", "a.jpg", "b.jpg"]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_resume_of_a_finished_output_appends_new_sources(tmp_path, fmt):
    out = tmp_path / f"r.{fmt}"
    w = TableWriter(out, fmt, schema(CLASSES))
    w.commit(whole("a.jpg"), rows_for("a.jpg", 1))
    w.close()
    again = TableWriter(out, fmt, schema(CLASSES), resume=True)
    assert again.done == [whole("a.jpg")]
    again.commit(whole("c.jpg"), rows_for("c.jpg", 1))
    again.close()
    assert [r["source"] for r in read_table(out).to_pylist()] == ["a.jpg", "c.jpg"]


def test_resume_with_other_settings_is_refused(tmp_path):
    out = tmp_path / "r.csv"
    w = TableWriter(out, "csv", schema(CLASSES), {"options": {"every": 1}})
    w.commit(whole("a.jpg"), rows_for("a.jpg", 1))
    w.close(finished=False)
    with pytest.raises(ValueError, match=r"differ in: options.every: 1 -> 2\)"):  # each option, old and new
        TableWriter(out, "csv", schema(CLASSES), {"options": {"every": 2}}, resume=True)
    with pytest.raises(ValueError, match=r"differ in: columns: .* with \['lm_nose_x', 'lm_nose_y'\]"):
        TableWriter(out, "csv", schema(CLASSES, ["nose"]), {"options": {"every": 1}}, resume=True)
    assert TableWriter(out, "csv", schema(CLASSES), {"options": {"every": 1}}, resume=True).done == [whole("a.jpg")]


def test_resume_after_a_kill_that_tore_the_csv_header(tmp_path):
    out = tmp_path / "r.csv"
    TableWriter(out, "csv", schema(CLASSES)).journal.close()
    out.write_text("source,media_ty")  # the kill landed while the header was written
    w = TableWriter(out, "csv", schema(CLASSES), resume=True)
    w.commit(whole("a.jpg"), rows_for("a.jpg", 1))
    w.close()
    assert read_table(out).column_names == schema(CLASSES).names and read_table(out).num_rows == 1


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_sources_that_look_like_numbers_stay_text(tmp_path, fmt):
    out = tmp_path / f"r.{fmt}"
    w = TableWriter(out, fmt, schema(CLASSES))
    w.commit(whole("123"), rows_for("123", 1))
    w.close()
    assert read_table(out).column("source").to_pylist() == ["123"]
    again = TableWriter(out, fmt, schema(CLASSES), resume=True)
    assert again.done == [whole("123")]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_a_torn_journal_line_drops_its_whole_write(tmp_path, fmt):
    out = tmp_path / f"r.{fmt}"
    w = TableWriter(out, fmt, schema(CLASSES))
    w.commit(whole("a.jpg"), rows_for("a.jpg", 1))
    w.flush()
    w.commit(whole("b.jpg"), rows_for("b.jpg", 1))
    w.commit(whole("c.jpg"), rows_for("c.jpg", 1))
    w.flush()  # one write for b and c: its rows are on disk, then one journal line names both
    w.journal.close()
    journal = tmp_path / f"r.{fmt}.progress"
    text = journal.read_text()
    journal.write_text(text[: text.rindex(json.dumps(whole("c.jpg")[0]))])  # the kill cuts that line after b
    resumed = TableWriter(out, fmt, schema(CLASSES), resume=True)
    assert resumed.done == [whole("a.jpg")]
    resumed.commit(whole("b.jpg"), rows_for("b.jpg", 1))
    resumed.commit(whole("c.jpg"), rows_for("c.jpg", 1))
    resumed.close()
    assert [r["source"] for r in read_table(out).to_pylist()] == ["a.jpg", "b.jpg", "c.jpg"]


def test_failed_keys_survive_a_resume(tmp_path):
    out = tmp_path / "r.parquet"
    w = TableWriter(out, "parquet", schema(CLASSES))
    bad = rows_for("bad.jpg", 1)
    bad[0].update(status="error", error="cannot decode")
    w.commit(whole("bad.jpg"), bad)
    w.commit(whole("good.jpg"), rows_for("good.jpg", 1))
    w.close(finished=False)
    resumed = TableWriter(out, "parquet", schema(CLASSES), resume=True)
    assert (resumed.done, resumed.failed) == ([whole("bad.jpg"), whole("good.jpg")], [whole("bad.jpg")])
    resumed.close()
    finished = TableWriter(out, "parquet", schema(CLASSES), resume=True)  # the same from a finished table
    assert (finished.done, finished.failed) == ([whole("bad.jpg"), whole("good.jpg")], [whole("bad.jpg")])
    finished.close()


def test_resume_of_an_empty_jsonl_output(tmp_path):
    out = tmp_path / "r.jsonl"
    TableWriter(out, "jsonl", schema(CLASSES)).close()
    assert out.read_text() == ""
    resumed = TableWriter(out, "jsonl", schema(CLASSES), resume=True)
    assert resumed.done == []
    resumed.commit(whole("a.jpg"), rows_for("a.jpg", 1))
    resumed.close()
    assert [r["source"] for r in read_table(out).to_pylist()] == ["a.jpg"]


def test_resume_of_a_finished_jsonl_output_checks_its_columns(tmp_path):
    out = tmp_path / "r.jsonl"
    w = TableWriter(out, "jsonl", schema(CLASSES))
    w.commit(whole("a.jpg"), rows_for("a.jpg", 1))
    w.close()
    with pytest.raises(ValueError, match="columns differ"):
        TableWriter(out, "jsonl", schema(CLASSES + ("sad",)), resume=True)


def test_a_folder_output_is_a_parquet_dataset_that_resumes(tmp_path, monkeypatch):
    import pyarrow.dataset as ds

    out = str(tmp_path / "faces") + "/"
    assert format_of(out) == "parquet"
    with pytest.raises(ValueError, match="a folder output is Parquet"):
        format_of(out, "csv")
    w = TableWriter(out, "parquet", schema(CLASSES), {"batchface_version": "test"})
    w.commit(whole("a.jpg"), rows_for("a.jpg", 2))
    w.flush()
    w.commit(whole("b.jpg"), rows_for("b.jpg", 1))
    monkeypatch.setattr(parquet, "fsync", lambda path: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):  # killed while writing b.jpg's part
        w.flush()
    monkeypatch.undo()
    w.journal.close()
    resumed = TableWriter(out, "parquet", schema(CLASSES), resume=True)
    assert resumed.done == [whole("a.jpg")]
    resumed.commit(whole("b.jpg"), rows_for("b.jpg", 1))
    resumed.close()
    parts = sorted(p.name for p in (tmp_path / "faces").iterdir())
    assert parts == ["part-000000.parquet", "part-000001.parquet"]  # kept as they are: no join
    dataset = ds.dataset(tmp_path / "faces")
    assert dataset.to_table().column("source").to_pylist() == ["a.jpg", "a.jpg", "b.jpg"]
    assert json.loads(dataset.schema.metadata[b"batchface"]) == {"batchface_version": "test"}
    assert [r["source"] for r in read_table(tmp_path / "faces").to_pylist()] == ["a.jpg", "a.jpg", "b.jpg"]
    assert not (tmp_path / "faces.progress").exists()
    again = TableWriter(tmp_path / "faces", "parquet", schema(CLASSES), resume=True)  # finished: appended to
    assert again.done == [whole("a.jpg"), whole("b.jpg")]
    again.commit(whole("c.jpg"), rows_for("c.jpg", 1))
    again.close()
    assert len(list((tmp_path / "faces").iterdir())) == 3
    with pytest.raises(FileExistsError):
        TableWriter(out, "parquet", schema(CLASSES))


# file names that a text format must carry exactly: line ends of each kind, quotes, separators, spaces,
# a byte that is not UTF-8 (as the table writes it), and a name that reads as a number
AWKWARD_NAMES = [
    "cr\rret.jpg",
    "lf\nline.jpg",
    "crlf\r\nboth.jpg",
    "ends in cr\r",
    'quote".jpg',
    "'single'.jpg",
    "comma,semi;colon.jpg",
    "tab\tx.jpg",
    "  spaces  .jpg",
    "caf\\xe9.jpg",
    "1e5",
]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_awkward_file_names_come_back_exactly_through_every_reader(tmp_path, fmt):
    import csv

    import pandas as pd

    out = tmp_path / f"r.{fmt}"
    w = TableWriter(out, fmt, schema(CLASSES))
    for name in AWKWARD_NAMES:
        w.commit(whole(name), rows_for(name, 1))
    w.close()
    assert read_table(out).column("source").to_pylist() == AWKWARD_NAMES  # pyarrow
    if fmt == "csv":
        with open(out, newline="", encoding="utf-8") as f:
            assert [r["source"] for r in csv.DictReader(f)] == AWKWARD_NAMES
        got = pd.read_csv(out, dtype={"source": str}, keep_default_na=False)["source"].tolist()
    else:
        got = pd.read_json(out, lines=True, dtype={"source": str})["source"].tolist()
    assert got == AWKWARD_NAMES
    again = TableWriter(out, fmt, schema(CLASSES), resume=True)  # read back by --resume too
    assert again.done == [whole(n) for n in AWKWARD_NAMES]


FORMULAS = ["=1+1.jpg", "+cmd|' /C calc'!A0.jpg", "@SUM(1).jpg", "-2+3.jpg", "\t=tab.jpg"]


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_a_path_that_a_spreadsheet_would_run_is_written_as_the_same_file_in_csv(tmp_path, fmt):
    import os

    import pandas as pd

    out = tmp_path / f"r.{fmt}"
    w = TableWriter(out, fmt, schema(CLASSES))
    for name in FORMULAS + ["/abs/=x.jpg"]:
        w.commit(whole(name), rows_for(name, 1))
    w.close()
    got = read_table(out).column("source").to_pylist()
    if fmt != "csv":  # no spreadsheet reads these: the path as walked
        assert got == FORMULAS + ["/abs/=x.jpg"]
        return
    assert got == [f"./{n}" for n in FORMULAS] + ["/abs/=x.jpg"]
    assert [os.path.normpath(s) for s in got] == [os.path.normpath(n) for n in FORMULAS] + ["/abs/=x.jpg"]
    cells = [line.split(",", 1)[0].strip('"') for line in out.read_text().splitlines()[1:]]
    assert not any(cell.startswith(("=", "+", "-", "@", "\t")) for cell in cells)
    assert pd.read_csv(out)["source"].tolist() == got
    assert TableWriter(out, fmt, schema(CLASSES), resume=True).done == [whole(n) for n in FORMULAS + ["/abs/=x.jpg"]]


@pytest.mark.slow
def test_a_commit_a_row_still_joins_into_large_row_groups(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    monkeypatch.setattr(parquet, "ROW_GROUP_ROWS", 128)  # the rule at a size a test can write
    out = tmp_path / "r.parquet"
    w = TableWriter(out, "parquet", schema(CLASSES), commit_seconds=0)  # --commit-seconds 0: a part a commit
    expected = []
    for i in range(300):
        expected += rows_for(f"{i:03d}.jpg", 1)
        w.commit(whole(f"{i:03d}.jpg"), expected[-1:])
    assert len(list((tmp_path / "r.parquet.parts").iterdir())) == 300
    w.close()
    meta = pq.ParquetFile(out).metadata
    assert [meta.row_group(g).num_rows for g in range(meta.num_row_groups)] == [128, 128, 44]
    assert read_table(out).column("source").to_pylist() == [r["source"] for r in expected]
    at_once = tmp_path / "at_once.parquet"
    pq.write_table(pa.Table.from_pylist(expected, schema=schema(CLASSES)), at_once, row_group_size=128)
    assert out.stat().st_size < 1.05 * at_once.stat().st_size
