"""Benchmark parts for sources beyond a local folder (``benchmark.py --sources``).

* the same dump loaded from a local folder, from a local zip of it, and from that zip on a local S3 server (moto's
  server, in this process, over HTTP on loopback), one after another in one run;
* two ways to read zip members from object storage, side by side: our thin layer (``zipfile`` over an s3fs file,
  what ``sources.open_source`` does) and fsspec's chained ``zip://member::s3://bucket/archive.zip``;
* peak RSS of one worker streaming one big member from the zip on S3.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import zipfile
from pathlib import Path

from data_processor.sources import open_source
from data_processor.types import SourceFile

BUCKET = "bench"


def start_s3() -> tuple[object, str]:
    """moto's S3 server on a free loopback port; AWS_* variables point this process and its children at it."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ.update(AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_ACCESS_KEY_ID="bench",
                      AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    import boto3

    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return server, f"s3://{BUCKET}"


def upload(path: Path, key: str) -> str:
    """``path`` to the bucket (multipart, streamed); returns its s3:// URL."""
    import boto3

    boto3.client("s3").upload_file(str(path), BUCKET, key)
    return f"s3://{BUCKET}/{key}"


def zip_folder(folder: Path, pattern: str, archive: Path) -> Path:
    """The files ``pattern`` matches under ``folder``, deflated into ``archive`` under their relative paths."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as out:
        for path in sorted(folder.glob(pattern)):
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=(2025, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.file_size = path.stat().st_size
            with open(path, "rb") as source, out.open(info, "w") as member:
                while block := source.read(1 << 20):
                    member.write(block)
    return archive


def _drain(stream) -> int:  # noqa: ANN001
    total = 0
    while block := stream.read(1 << 20):
        total += len(block)
    return total


def compare_zip_readers(url: str, repeat: int = 3) -> list[tuple[str, float, float]]:
    """(reader, seconds, MB/s of inflated content) for every member of the zip at ``url``, best of ``repeat``."""
    import fsspec

    with open_source(SourceFile(None, "archive", 0, url=url)) as raw, zipfile.ZipFile(raw) as archive:
        members = [i.filename for i in archive.infolist() if not i.is_dir()]

    def ours() -> int:
        total = 0
        for m in members:
            with open_source(SourceFile(None, m, 0, url=url, member=m)) as stream:
                total += _drain(stream)
        return total

    def chained() -> int:
        total = 0
        for m in members:
            with fsspec.open(f"zip://{m}::{url}", "rb") as stream:
                total += _drain(stream)
        return total

    results = []
    for name, reader in (("zipfile over an s3fs file (sources.open_source)", ours),
                         ("fsspec zip://member::s3://… chaining", chained)):
        best, size = float("inf"), 0
        for _ in range(repeat):
            fsspec.config.conf.clear()
            started = time.perf_counter()
            size = reader()
            best = min(best, time.perf_counter() - started)
        results.append((name, best, size / 1e6 / best))
    return results
