"""Sources beyond a local folder: zip archives read as the folder, objects in an S3 store (a real S3 API over HTTP,
moto's server), zips in the store, one file over HTTP. The guarantees hold as for local files."""

from __future__ import annotations

import gzip
import hashlib
import io
import zipfile

import pytest
import sqlalchemy as sa

from conftest import cli, write
from data_processor.errors import ConfigError
from data_processor.sources import discover_source, display, open_source

GOOD = "id,name,when\n1,ok,2020-01-01\n2,fine,2020-01-02\n"
RAGGED = "id,name,when\n1,ok,2020-01-01\n2,too,many,fields\n3,last,2020-01-03\n"
GZ = gzip.compress(GOOD.replace("ok", "gz").encode(), mtime=0)


def make_zip(members: dict[str, bytes | str], *, stored: set[str] = frozenset(), zip64: set[str] = frozenset(),
             folders: tuple[str, ...] = ()) -> bytes:
    """A zip archive in memory: deflated members unless named in ``stored``; ``zip64`` members forced to zip64."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for folder in folders:
            archive.writestr(zipfile.ZipInfo(folder.rstrip("/") + "/"), b"")
        for name, content in members.items():
            data = content.encode() if isinstance(content, str) else content
            info = zipfile.ZipInfo(name, date_time=(2025, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=name in zip64) as member:
                member.write(data)
    return buffer.getvalue()


def corrupt_member(archive: bytes, name: str, old: bytes, new: bytes) -> bytes:
    """Change a stored member's bytes in place (same length): its CRC-32 no longer matches."""
    assert len(old) == len(new)
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        info = z.getinfo(name)
        assert info.compress_type == zipfile.ZIP_STORED
    start = info.header_offset
    at = archive.index(old, start)
    return archive[:at] + new + archive[at + len(old):]


def sample_zip() -> bytes:
    return make_zip(
        {"certificates-2019.csv": GOOD, "certificates-2020.csv": GOOD.replace("ok", "stored"),
         "certificates-2021.csv": RAGGED, "sub/certificates-2022.csv": GOOD.replace("ok", "zip64"),
         "certificates-2023.csv.gz": GZ, "README.txt": "hello"},
        stored={"certificates-2020.csv"}, zip64={"sub/certificates-2022.csv"}, folders=("sub/",),
    )


# -- listing and opening -----------------------------------------------------------------------------------------


def test_zip_members_are_listed_as_a_folder(tmp_path):
    archive = write(tmp_path / "domestic-csv.zip", sample_zip())
    found = discover_source(str(archive), "**/certificates-*.csv*")
    assert [f.key for f in found.files] == ["certificates-2019.csv", "certificates-2020.csv", "certificates-2021.csv",
                                            "certificates-2023.csv.gz", "sub/certificates-2022.csv"]
    assert all(f.path == archive and f.member == f.key and f.etag.startswith("crc32:") for f in found.files)
    assert [f.key for f in discover_source(str(archive), "certificates-*.csv").files] == [
        "certificates-2019.csv", "certificates-2020.csv", "certificates-2021.csv"]  # no ** : top level only
    assert discover_source(str(archive), "sub").problems[0].reason.endswith("is a folder; skipped")
    zip64 = next(f for f in found.files if f.key == "sub/certificates-2022.csv")
    with open_source(zip64) as stream:  # a forced-zip64 member reads like any other
        assert stream.read() == GOOD.replace("ok", "zip64").encode()


def test_a_zip_found_by_its_bytes_not_its_name(tmp_path):
    archive = write(tmp_path / "release.bin", make_zip({"a.csv": GOOD}))
    assert [f.key for f in discover_source(str(archive), "*.csv").files] == ["a.csv"]


def test_a_single_local_file(tmp_path):
    path = write(tmp_path / "one.csv", GOOD)
    assert [(f.key, f.size) for f in discover_source(str(path), "**/*.csv").files] == [("one.csv", len(GOOD))]


def test_truncated_archive_is_one_configuration_error(tmp_path):
    archive = write(tmp_path / "cut.zip", sample_zip()[:-300])
    with pytest.raises(ConfigError, match="cut.zip: not a readable zip archive"):
        discover_source(str(archive), "**/*.csv")


def test_credentials_never_shown():
    assert display("https://me:s3cret@example.org/x.zip?X-Amz-Signature=abc") == "https://me:***@example.org/x.zip?…"
    assert display("https://token@example.org/x.zip") == "https://***@example.org/x.zip"
    assert display("s3://bucket/epc/") == "s3://bucket/epc/"
    assert display("/data/epc") == "/data/epc"


@pytest.mark.parametrize("url, package", [("gs://bucket/epc", "gcsfs"), ("az://container/epc", "adlfs")])
def test_a_store_whose_package_is_missing_says_which_to_install(url, package):
    pytest.importorskip("fsspec")
    try:
        __import__(package)
        pytest.skip(f"{package} is installed")
    except ImportError:
        pass
    with pytest.raises(ConfigError, match=f"need the package {package}: pip install {package}"):
        discover_source(url, "**/*.csv")


# -- loading from a zip ------------------------------------------------------------------------------------------


def test_zip_loads_exactly_once_with_rejects(db, tmp_path):
    archive = write(tmp_path / "domestic-csv.zip", sample_zip())
    summary = db.load(archive, "**/certificates-*.csv*")
    assert summary.exit_code == 0, summary.failed
    assert summary.count("loaded") == 5
    assert db.count() == 10  # 2 + 2 + (2 of 3: the ragged row is a reject) + 2 + 2
    ragged = next(r for r in summary.results if r.key == "certificates-2021.csv")
    assert (ragged.rows_read, ragged.rows_loaded, ragged.rows_rejected) == (3, 2, 1)
    rejects = db.rows(f"SELECT file_key, line, raw_text FROM {db.q(db.table + '_rejects')}")
    assert rejects == [("certificates-2021.csv", 3, "2,too,many,fields")]
    names = {r[0] for r in db.rows(f"SELECT name FROM {db.q(db.table)}")}
    assert {"stored", "zip64", "gz"} <= names

    again = db.load(archive, "**/certificates-*.csv*")
    assert (again.count("loaded"), again.count("skipped")) == (0, 5)
    assert db.count() == 10

    changed = make_zip({"certificates-2019.csv": GOOD + "3,new,2020-01-03\n", "certificates-2020.csv": GOOD
                        .replace("ok", "stored"), "certificates-2021.csv": RAGGED,
                        "sub/certificates-2022.csv": GOOD.replace("ok", "zip64"),
                        "certificates-2023.csv.gz": GZ})
    write(archive, changed)  # next month's release: one member changed
    third = db.load(archive, "**/certificates-*.csv*")
    assert [r.key for r in third.results if r.status == "loaded"] == ["certificates-2019.csv"]
    assert db.count() == 11


@pytest.mark.parametrize("db", ["sqlite", "postgres"], indirect=True)
def test_a_member_with_a_wrong_crc_fails_named(db, tmp_path):
    good = make_zip({"a.csv": GOOD, "b.csv": GOOD.replace("ok", "bb")}, stored={"b.csv"})
    archive = write(tmp_path / "release.zip", corrupt_member(good, "b.csv", b"fine", b"FINE"))
    summary = db.load(archive, "*.csv")
    assert summary.exit_code == 1
    (failed,) = summary.failed
    assert failed.key == "b.csv" and "corrupt zip member" in str(failed.error) and "CRC" in str(failed.error)
    assert db.count() == 2  # a.csv loaded


def test_cli_loads_a_zip_and_a_truncated_one_is_one_line(tmp_path):
    archive = write(tmp_path / "domestic-csv.zip", sample_zip())
    dest = f"sqlite:///{tmp_path}/cli.db"
    done = cli("load", "--src", str(archive), "--glob", "**/certificates-*.csv", "--dest", dest, "--table", "c")
    assert done.returncode == 0, done.stderr
    assert "4 files loaded" in done.stdout
    cut = write(tmp_path / "cut.zip", sample_zip()[:-300])
    done = cli("load", "--src", str(cut), "--dest", dest, "--table", "c")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [f"error: {cut}: not a readable zip archive (truncated or corrupt?): "
                                                "File is not a zip file"]


# -- loading from an S3 store ------------------------------------------------------------------------------------


def test_s3_prefix_loads_exactly_once_and_a_changed_object_replaces_its_rows(db, s3):
    bucket = s3.bucket()
    s3.put(bucket, "dump/domestic-E06000001-Hartlepool/certificates.csv", GOOD)
    s3.put(bucket, "dump/domestic-W06000015-Cardiff/certificates.csv", RAGGED)
    s3.put(bucket, "dump/domestic-W06000015-Cardiff/recommendations.csv", "x\n1\n")
    s3.put(bucket, "elsewhere/certificates.csv", GOOD)
    src = f"s3://{bucket}/dump"
    summary = db.load(src, "**/certificates.csv")
    assert summary.exit_code == 0, summary.failed
    assert sorted(r.key for r in summary.results) == ["domestic-E06000001-Hartlepool/certificates.csv",
                                                      "domestic-W06000015-Cardiff/certificates.csv"]
    assert db.count() == 4
    assert db.rows(f"SELECT file_key, line FROM {db.q(db.table + '_rejects')}") == [
        ("domestic-W06000015-Cardiff/certificates.csv", 3)]

    assert db.load(src + "/", "**/certificates.csv").count("skipped") == 2  # a trailing slash is the same prefix

    s3.put(bucket, "dump/domestic-E06000001-Hartlepool/certificates.csv", GOOD + "3,more,2020-01-03\n")
    third = db.load(src, "**/certificates.csv")
    assert [(r.key, r.status, r.rows_loaded) for r in third.results] == [
        ("domestic-E06000001-Hartlepool/certificates.csv", "loaded", 3),
        ("domestic-W06000015-Cardiff/certificates.csv", "skipped", 0)]
    assert db.count() == 5
    sha = db.scalar("SELECT sha256 FROM data_processor_files WHERE table_name = :t AND file_key LIKE 'domestic-E%'",
                    t=db.table)
    assert sha == hashlib.sha256((GOOD + "3,more,2020-01-03\n").encode()).hexdigest()


def test_zip_member_names_are_normalised_and_unsafe_ones_reported(sqlite_db, tmp_path):
    """``./`` and a leading ``/`` name the same file as without; a name that climbs out of the archive is never
    loaded, and is a failure when it looks like a file the glob asks for."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for name in ("./certificates-2005.csv", "/certificates-2002.csv", "../certificates-2003.csv",
                     "sub/../../certificates-2004.csv", "..\\..\\certificates-2006.csv", "notes/../../readme.txt"):
            z.writestr(name, "id\n1\n")
    path = write(tmp_path / "release.zip", archive.getvalue())
    found = discover_source(str(path), "certificates-*.csv")
    assert [f.key for f in found.files] == ["certificates-2002.csv", "certificates-2005.csv"]
    assert sorted((p.key, p.fatal) for p in found.problems) == [
        ("../certificates-2003.csv", True), ("..\\..\\certificates-2006.csv", True), ("notes/../../readme.txt", False),
        ("sub/../../certificates-2004.csv", True)]
    assert all("climbs out of the archive" in p.reason for p in found.problems)
    summary = sqlite_db.load(path, "certificates-*.csv")
    assert (summary.count("loaded"), summary.exit_code, sqlite_db.count()) == (2, 1, 2)


@pytest.mark.parametrize("path, pause, options, count", [
    ("the COPY fast path", "copy-streaming", [], 1_000_000),
    # the batch path reads ahead of the batch it writes: a bigger file, so the replacement lands mid-read
    ("the validating path (rows hashed)", "batch-written", ["--null-values", "name 7", "--hash-first-load"],
     4_000_000),
])
def test_an_object_replaced_while_it_is_read_fails_at_once_as_changed(pg, s3, tmp_path, path, pause, options,
                                                                     count):
    """The object is overwritten while its bytes are read (paused after the first MB or the first batch; the next
    8 MB range read finds another ETag): the file fails at once as "changed during the load", never retried as a
    database fault, nor reported as a CSV it cannot parse."""
    import os
    import subprocess
    import sys

    from data_processor.testing import PAUSE_AT, PAUSE_DIR
    from test_crash import paused_at

    bucket = s3.bucket()
    rows = "".join(f"{i},name {i}\n" for i in range(count))  # ≥ 14 MB: more than one 8 MB range read
    s3.put(bucket, "dump/big.csv", "id,name\n" + rows)
    args = [sys.executable, "-m", "data_processor", "load", "--src", f"s3://{bucket}/dump", "--glob", "*.csv",
            "--dest", pg.url, "--table", pg.table, "--workers", "1", *options]
    env = {**os.environ, PAUSE_AT: pause, PAUSE_DIR: str(tmp_path), "DATA_PROCESSOR_RETRY_DELAYS": "30"}
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        paused_at(tmp_path, pause, process)
        s3.put(bucket, "dump/big.csv", "id,name\n" + rows.replace("name", "other"))
    finally:
        (tmp_path / f"{pause}.go").touch()
    out, err = process.communicate(timeout=120)
    assert process.returncode == 1, out + err
    assert "big.csv: changed during the load" in out + err, out + err
    assert "attempt" not in err and "Traceback" not in err, err
    assert pg.scalar(f"SELECT COUNT(*) FROM {pg.q(pg.table)}") == 0


def test_an_object_replaced_while_it_is_scanned_for_the_plan_is_one_line_not_a_csv_error(pg, s3, tmp_path):
    """Replaced between the planning scan's reads: said as such (it read as "cannot parse as CSV: [Errno 16]")."""
    import os
    import subprocess
    import sys

    from data_processor.testing import PAUSE_AT, PAUSE_DIR
    from test_crash import paused_at

    bucket = s3.bucket()
    rows = "".join(f"{i},name {i}\n" for i in range(4_000_000))  # more than the scan reads ahead
    s3.put(bucket, "dump/big.csv", "id,name\n" + rows)
    args = [sys.executable, "-m", "data_processor", "load", "--src", f"s3://{bucket}/dump", "--glob", "*.csv",
            "--dest", pg.url, "--table", pg.table, "--workers", "1"]
    env = {**os.environ, PAUSE_AT: "scan-gathering", PAUSE_DIR: str(tmp_path)}
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        paused_at(tmp_path, "scan-gathering", process)
        s3.put(bucket, "dump/big.csv", "id,name\n" + rows.replace("name", "other"))
    finally:
        (tmp_path / "scan-gathering.go").touch()
    out, err = process.communicate(timeout=120)
    assert process.returncode in (1, 2), out + err
    assert "big.csv: changed while it was read for the plan (the object was replaced)" in out + err, out + err
    assert "cannot parse" not in out + err and "Traceback" not in err, err


def test_an_empty_zip_on_s3_is_one_line_exit_two(s3, tmp_path):
    """0 bytes, or a valid archive without a member: one line naming it, as for a local zip."""
    bucket = s3.bucket()
    empty = io.BytesIO()
    zipfile.ZipFile(empty, "w").close()
    dest = f"sqlite:///{tmp_path}/e.db"
    for name, content, message in (("zero.zip", b"", "not a readable zip archive"),
                                   ("none.zip", empty.getvalue(), "no file under")):
        url = s3.put(bucket, name, content)
        done = cli("load", "--src", url, "--glob", "*.csv", "--dest", dest, "--table", "e")
        assert done.returncode == 2, done.stdout + done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


@pytest.mark.parametrize("db", ["sqlite", "postgres"], indirect=True)
def test_s3_zip_is_read_in_place(db, s3):
    bucket = s3.bucket()
    archive = sample_zip()
    broken = make_zip({"certificates-2024.csv": GOOD.replace("ok", "xx")}, stored={"certificates-2024.csv"})
    s3.put(bucket, "epc/broken.zip", corrupt_member(broken, "certificates-2024.csv", b"fine", b"FINE"))
    src = s3.put(bucket, "epc/domestic-csv.zip", archive)
    summary = db.load(src, "**/certificates-*.csv*")
    assert summary.exit_code == 0, summary.failed
    assert summary.count("loaded") == 5 and db.count() == 10
    assert db.load(src, "**/certificates-*.csv*").count("skipped") == 5

    failed = db.load(f"s3://{bucket}/epc/broken.zip", "*.csv").failed
    assert [(r.key, "CRC" in str(r.error)) for r in failed] == [("certificates-2024.csv", True)]


def test_s3_errors_are_one_line(s3, tmp_path):
    bucket = s3.bucket()
    with pytest.raises(ConfigError, match="does not exist"):
        discover_source(f"s3://{bucket}/nothing-here.zip", "**/*.csv")
    s3.put(bucket, "epc/cut.zip", sample_zip()[:-300])
    with pytest.raises(ConfigError, match=f"s3://{bucket}/epc/cut.zip: not a readable zip archive"):
        discover_source(f"s3://{bucket}/epc/cut.zip", "**/*.csv")


def test_cli_loads_from_s3(s3, tmp_path):
    bucket = s3.bucket()
    src = s3.put(bucket, "epc/domestic-csv.zip", sample_zip())
    s3.put(bucket, "dump/a/certificates.csv", GOOD)
    dest = f"sqlite:///{tmp_path}/cli.db"
    done = cli("load", "--src", src, "--glob", "certificates-*.csv", "--dest", dest, "--table", "z")
    assert done.returncode == 0, done.stderr
    assert "3 files loaded" in done.stdout
    done = cli("--log-format", "json", "load", "--src", f"s3://{bucket}/dump", "--glob", "**/certificates.csv",
               "--dest", dest, "--table", "d")
    assert done.returncode == 0, done.stderr
    assert '"file.path": "a/certificates.csv"' in done.stderr + done.stdout
    done = cli("load", "--src", f"s3://{bucket}/missing/", "--dest", dest, "--table", "d")
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_a_file_and_a_zip_over_http(db, s3):
    """Any HTTP(S) URL: one file, or a zip read with range requests (here the S3 server's plain HTTP view)."""
    bucket = s3.bucket()
    s3.client().put_bucket_acl(Bucket=bucket, ACL="public-read")
    s3.put(bucket, "files/certificates.csv", GOOD)
    s3.put(bucket, "files/domestic-csv.zip", sample_zip())
    base = f"{s3.endpoint}/{bucket}/files"
    one = discover_source(f"{base}/certificates.csv", "**/*.csv")
    assert [(f.key, f.size) for f in one.files] == [("certificates.csv", len(GOOD))]
    summary = db.load(f"{base}/domestic-csv.zip", "**/certificates-*.csv*")
    assert summary.exit_code == 0, summary.failed
    assert summary.count("loaded") == 5 and db.count() == 10


def test_local_folder_keeps_plain_files(tmp_path):
    """The local path opens files with plain open(): nothing in between (speed)."""
    write(tmp_path / "f" / "a.csv", GOOD)
    (found,) = discover_source(str(tmp_path / "f"), "*.csv").files
    assert found.url is None and found.member is None
    with open_source(found) as stream:
        assert isinstance(stream, io.BufferedReader)



@pytest.mark.parametrize("db", ["sqlite", "postgres"], indirect=True)
def test_the_current_release_zip_loads_by_header_name(db, tmp_path):
    """Per-year members whose column order moves between years land in the right columns."""
    from samples.epc_current import generate_current_dump

    dump = generate_current_dump(tmp_path / "release", 1.0, seed=4, archive=True)
    summary = db.load(dump.archive, "certificates-*.csv", null_values=("NO DATA!",))
    assert summary.exit_code == 0, summary.failed
    assert summary.count("loaded") == len(dump.files) // 2
    assert db.count() == dump.certificate_rows
    towns = {r[0] for r in db.rows(f"SELECT DISTINCT posttown FROM {db.q(db.table)}")}
    assert towns and all(t == t.upper() for t in towns)  # never a constituency label from a moved column
    assert db.load(dump.archive, "certificates-*.csv", null_values=("NO DATA!",)).count("skipped") == summary.count(
        "loaded")


@pytest.mark.parametrize("db", ["sqlite", "postgres"], indirect=True)
def test_unchanged_members_and_objects_are_skipped_from_the_listing_without_reading(db, s3, tmp_path, monkeypatch):
    """Same size and CRC-32 (zip member) or ETag (object) as the ledger recorded: no byte is read again."""
    from data_processor import planning as plan

    archive = write(tmp_path / "domestic-csv.zip", sample_zip())
    assert db.load(archive, "**/certificates-*.csv*").count("loaded") == 5
    bucket = s3.bucket()
    s3.put(bucket, "dump/a/certificates.csv", GOOD)
    other = db.table
    db.table = other + "_s3"
    try:
        assert db.load(f"s3://{bucket}/dump", "**/certificates.csv").count("loaded") == 1
        etag = db.scalar("SELECT etag FROM data_processor_files WHERE table_name = :t", t=db.table)
        assert etag and len(etag) >= 32  # the object's ETag (MD5 of a single-part upload)

        def no_reading(*_args, **_kwargs):
            raise AssertionError("an unchanged file was read")

        monkeypatch.setattr(plan, "fingerprint", no_reading)
        assert db.load(f"s3://{bucket}/dump", "**/certificates.csv").count("skipped") == 1
    finally:
        with db.engine.begin() as conn:  # the fixture cleans up only its own table
            for name in (db.table, db.table + "_rejects"):
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {db.q(name)}"))
            conn.execute(sa.text("DELETE FROM data_processor_files WHERE table_name = :t"), {"t": db.table})
            conn.execute(sa.text("DELETE FROM data_processor_columns WHERE table_name = :t"), {"t": db.table})
        db.table = other
    assert db.load(archive, "**/certificates-*.csv*").count("skipped") == 5
    monkeypatch.undo()
    changed = make_zip({"certificates-2019.csv": GOOD.replace("ok", "OK")})  # same size, other CRC
    write(archive, changed)
    third = db.load(archive, "**/certificates-*.csv*")
    assert [(r.key, r.status) for r in third.results] == [("certificates-2019.csv", "loaded")]
    keys = db.rows("SELECT file_key, etag FROM data_processor_files WHERE table_name = :t AND file_key = "
                   "'certificates-2019.csv'", t=db.table)
    with zipfile.ZipFile(archive) as z:
        assert keys == [("certificates-2019.csv", f"crc32:{z.getinfo('certificates-2019.csv').CRC:08x}")]


def test_a_ledger_from_before_gets_its_etag_column(sqlite_db, src):
    from data_processor import ledger

    write(src / "a.csv", GOOD)
    assert sqlite_db.load(src).count("loaded") == 1
    with sqlite_db.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE data_processor_files DROP COLUMN etag"))
    assert ledger.entries(sqlite_db.target())["a.csv"].etag is None  # readable as it is
    assert ledger.status_rows(sqlite_db.engine, sqlite_db.table)
    assert sqlite_db.load(src).count("skipped") == 1  # the run adds the column
    ledger.ensure_tables(sqlite_db.engine)  # and again: nothing to do
    assert "etag" in {c["name"] for c in sa.inspect(sqlite_db.engine).get_columns("data_processor_files")}
