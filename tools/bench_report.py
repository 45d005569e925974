"""Times ``batchface report`` on a large table: a real run's table repeated until it has ``--rows``
rows, each copy's video frames, times and track ids shifted past the previous copy's (so its videos
read as long videos with many tracks; images repeat). Prints seconds for reading, the per-track
table and the whole report.

    python tools/bench_report.py r.parquet --rows 1000000 --out /tmp/bench-report
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from batchface.report.build import write_report
from batchface.report.tracks import tracks


def repeated(table: pa.Table, rows: int) -> pa.Table:
    copies = -(-rows // table.num_rows)
    span_frames = (pc.max(table["frame_index"]).as_py() or 0) + 1
    span_s = (pc.max(table["timestamp_s"]).as_py() or 0.0) + 1.0
    span_tracks = (pc.max(table["track_id"]).as_py() or 0) + 1
    video = pc.equal(table["media_type"], "video")
    parts = []
    for k in range(copies):  # a loop over copies (hundreds), not rows
        shifted = table.set_column(
            table.column_names.index("frame_index"),
            "frame_index",
            pc.if_else(video, pc.add(table["frame_index"], k * span_frames), table["frame_index"]),
        )
        shifted = shifted.set_column(
            shifted.column_names.index("timestamp_s"), "timestamp_s", pc.add(table["timestamp_s"], k * span_s)
        )
        shifted = shifted.set_column(
            shifted.column_names.index("track_id"), "track_id", pc.add(table["track_id"], k * span_tracks)
        )
        parts.append(shifted)
    return pa.concat_tables(parts).slice(0, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("table", type=Path, help="a table batchface run wrote, with videos")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path(tempfile.mkdtemp(prefix="bench-report-")))
    args = parser.parse_args()
    big = repeated(pq.read_table(args.table), args.rows)
    args.out.mkdir(parents=True, exist_ok=True)
    pq.write_table(big, args.out / "big.parquet")
    start = time.perf_counter()
    table = pq.read_table(args.out / "big.parquet")
    read_s = time.perf_counter() - start
    tracks_s = []
    for _ in range(3):  # the first call also starts Arrow's thread pools and memory pool
        start = time.perf_counter()
        per_track = tracks(table)
        tracks_s.append(time.perf_counter() - start)
    report = write_report([args.out / "big.parquet"], args.out / "report", progress=False)
    print(
        f"{table.num_rows} rows, {per_track.num_rows} tracks: read {read_s:.2f} s, per-track table "
        f"{tracks_s[0]:.2f} s (first call), {min(tracks_s[1:]):.2f} s (best of the next two)"
    )
    print(f"whole report {report.seconds:.1f} s ({report.videos} videos, {report.folders} folders) -> {report.index}")


if __name__ == "__main__":
    main()
