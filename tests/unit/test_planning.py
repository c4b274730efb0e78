"""plan: what the scan learns of one file (state, dialect, rows, cleanliness), and one schema for all files."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path

import pytest

from conftest import write
from data_processor import planning
from data_processor import read
from data_processor.errors import ConfigError, InputError
from data_processor.ledger import Entry
from data_processor.planning import build_plan, check_table_name, check_width, listed_unchanged, read_schema_file
from data_processor.types import ColumnPlan, SourceFile
from data_processor.writers import mysql, postgres, sqlite


def source(path: Path, etag: str | None = None) -> SourceFile:
    return SourceFile(path, path.name, path.stat().st_size if path.exists() else 0, etag=etag)


def scan(path: Path, entry: Entry | None = None, null_values: tuple[str, ...] = (), etag: str | None = None):
    """The planning scan of one local file (the one place that knows ``scan_file``'s signature)."""
    return planning.scan_file(source(path, etag), null_values, entry)


def loaded(content: bytes, status: str = "loaded") -> Entry:
    """The ledger's row of a file loaded (or failed) with ``content``."""
    return Entry(1, status, len(content), hashlib.sha256(content).hexdigest(), 2)


# -- one file's scan -------------------------------------------------------------------------------------------------

CONTENT = b"id,name\n1,a\n2,b\n"


@pytest.mark.parametrize(
    ("entry", "state"),
    [
        (None, "new"),
        (loaded(CONTENT), "unchanged"),
        (loaded(CONTENT + b"3,c\n"), "changed"),
        (Entry(1, "loaded", len(CONTENT), hashlib.sha256(b"id,name\n1,a\n2,X\n").hexdigest()), "changed"),  # same size
        (loaded(CONTENT, status="failed"), "changed"),  # failed last time: load again, even unchanged
        (Entry(1, "failed", None, None), "new"),  # failed before it was ever loaded
        (Entry(1, "new", None, None), "new"),  # registered, then the run died
    ],
)
def test_state_against_the_ledger(tmp_path, entry, state):
    found = scan(write(tmp_path / "x.csv", CONTENT), entry)
    assert found.plan.state == state
    assert found.plan.sha256 == hashlib.sha256(CONTENT).hexdigest()
    if state == "unchanged":  # not read past its hash
        assert (found.plan.header, found.rows, found.stats) == ((), 0, {})
    else:
        assert (found.plan.header, found.plan.columns, found.rows) == (("id", "name"), ("id", "name"), 2)


def test_an_object_listed_unchanged_is_not_even_opened(tmp_path):
    gone = tmp_path / "not-here.csv"
    entry = Entry(7, "loaded", 0, "ab" * 32, 2, etag='"etag-1"')
    found = scan(gone, entry, etag='"etag-1"')
    assert (found.plan.state, found.plan.sha256) == ("unchanged", "ab" * 32)
    assert listed_unchanged(source(gone, '"etag-1"'), entry)
    assert not listed_unchanged(source(gone, '"etag-2"'), entry)
    assert not listed_unchanged(source(gone, None), entry)  # a local file: no tag, so hash it
    assert not listed_unchanged(source(gone, '"etag-1"'), Entry(7, "failed", 0, "ab" * 32, 2, etag='"etag-1"'))


@pytest.mark.parametrize(
    ("content", "encoding", "delimiter", "compression"),
    [
        (b"id;name\r\n1;a\r\n", "utf-8", ";", None),
        (b"id\tname\n1\ta\n", "utf-8", "\t", None),
        (b"id|name\n1|a\n", "utf-8", "|", None),
        ("id,name\n1,\u00a3\n".encode("cp1252"), "cp1252", ",", None),
        (b"\xef\xbb\xbfid,name\n1,a\n", "utf-8-sig", ",", None),
        (gzip.compress(b"id;name\n1;a\n"), "utf-8", ";", "gzip"),
    ],
)
def test_the_dialect_is_recorded(tmp_path, content, encoding, delimiter, compression):
    found = scan(write(tmp_path / "x.csv", content))
    dialect = found.plan.dialect
    assert (dialect.encoding, dialect.delimiter, dialect.compression) == (encoding, delimiter, compression)
    assert (found.plan.columns, found.rows) == (("id", "name"), 1)
    assert found.plan.source.size == len(content)


@pytest.mark.parametrize(
    ("content", "rows", "ragged", "clean"),
    [
        (b"id,name\n1,a\n2,b\n", 2, 0, True),
        (b"id,name\n", 0, 0, True),  # header only
        (b"id,name", 0, 0, True),
        (b"id,name\n1,a\n2\n3,c,d\n", 1, 2, False),  # ragged rows
        (b"id,name\n1,a\nid,name\n2,b\n", 2, 1, False),  # a repeated header
        (b"id,name\n1,x\x00y\n", 1, 0, False),  # a NUL byte
        ("id,name\n1,\u00a3\n".encode() + b"2,\xff\n", 2, 0, False),  # a corrupt UTF-8 byte
        (b"id,name\n1,a\n\n2,b\n", 2, 0, True),  # blank lines are not rows
    ],
)
def test_rows_and_whether_the_file_is_clean(tmp_path, content, rows, ragged, clean):
    found = scan(write(tmp_path / "x.csv", content))
    assert (found.rows, found.ragged, found.plan.rows, found.plan.clean) == (rows, ragged, rows, clean)
    assert found.plan.has_nul == (b"\x00" in content)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "x.csv, line 1: no header row (the file is empty, or its first line has no column names)"),
        (b"\n\n\n", "x.csv, line 1: no header row"),
        (b"\xef\xbb\xbf", "x.csv, line 1: no header row"),  # a byte-order mark and nothing else
        (b"\xef\xbb\xbf\r\n", "x.csv, line 1: no header row"),
        (b",,\n1,2,3\n", "x.csv, line 1: no header row"),
        (b'id,note\n1,fine\n2,"never closed\n3,x\n', "x.csv, line 3: a quoted field opens on this line and is never "
                                                     "closed"),
        (gzip.compress(b"id\n" + b"1\n" * 10_000)[:-40], "x.csv: cannot read: corrupt or truncated gzip"),
    ],
)
def test_a_file_that_cannot_be_planned_is_one_line(tmp_path, content, message):
    with pytest.raises(InputError) as caught:
        scan(write(tmp_path / "x.csv", content))
    assert str(caught.value).startswith(message)


def test_a_file_gone_since_discovery_is_one_line(tmp_path):
    with pytest.raises(InputError, match=r"^gone\.csv: cannot read: No such file or directory$"):
        scan(tmp_path / "gone.csv")


def test_a_row_longer_than_a_block_is_read_with_bigger_blocks_and_the_size_recorded(tmp_path, monkeypatch):
    monkeypatch.setattr(read, "BLOCK_SIZE", 1 << 10)
    monkeypatch.setattr(planning, "LONG_ROW_BLOCK_SIZES", (4 << 10, 16 << 10))
    found = scan(write(tmp_path / "x.csv", b"id,blob\n1," + b"x" * 3000 + b"\n2,y\n"))
    assert (found.rows, found.plan.dialect.block_size) == (2, 4 << 10)
    with pytest.raises(InputError, match=r"^x\.csv: cannot parse as CSV: straddling object"):
        scan(write(tmp_path / "x.csv", b"id,blob\n1," + b"x" * 100_000 + b"\n"))  # longer than the last size


# -- one schema for all files ----------------------------------------------------------------------------------------


def plan_of(tmp_path: Path, files: dict[str, bytes], existing=None, overrides=None, null_values=()):
    scans = [scan(write(tmp_path / name, content), null_values=null_values) for name, content in files.items()]
    return build_plan("t", scans, existing, overrides, null_values)


def types(plan) -> dict[str, str]:
    return {c.name: c.describe() for c in plan.columns}


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ([b"1", b"2"], "integer"),
        ([b"1", b""], "integer"),  # empty is null, not text
        ([b"007", b"1"], "text"),  # leading zeros: a code
        ([b"1", b"2.5"], "decimal(2,1)"),
        ([b"1.5", b"-12.25"], "decimal(4,2)"),  # scale is the most decimal places seen
        ([b"1,5"], "text"),  # quoted decimal comma
        ([b"123456789012"], "bigint"),
        ([b"2020-01-31", b"2020-02-29"], "date"),
        ([b"31/01/2020"], "text"),  # non-ISO dates stay text
        ([b"2020-01-31", b"2020-01-31 10:00:00"], "timestamp"),
        ([b" 1"], "text"),  # whitespace is kept, so the value is not a number
        ([b"1", b"N/A"], "text"),
        ([b""], "text"),
    ],
)
def test_types_are_inferred_from_every_value(tmp_path, column, expected):
    body = b"".join(b'%d,"%s"\n' % (i, v) for i, v in enumerate(column))
    assert types(plan_of(tmp_path, {"x.csv": b"id,v\n" + body}))["v"] == expected


def test_null_values_do_not_decide_a_type(tmp_path):
    files = {"x.csv": b"id,v\n1,NO DATA\n2,5\n"}
    assert types(plan_of(tmp_path, files))["v"] == "text"
    assert types(plan_of(tmp_path, files, null_values=("NO DATA",)))["v"] == "integer"


def test_files_merge_into_one_schema(tmp_path):
    plan = plan_of(tmp_path, {
        "a.csv": b"id,amount,code\n1,10,1\n",
        "b.csv": b"ID;Amount;Extra\n3;4;x\n",  # another delimiter, headers in another case
        "c.csv": b"id,amount,extra,code\n2,10.25,y,007\n",
    })
    assert types(plan) == {"id": "integer", "amount": "decimal(4,2)", "code": "text", "extra": "text"}
    assert plan.column("extra").source == "Extra"
    assert [c.source for c in plan.columns][:2] == ["id", "amount"]  # the first header seen names the source
    assert [f.source.key for f in plan.files] == ["a.csv", "b.csv", "c.csv"]
    assert plan.unverified == frozenset()


@pytest.mark.parametrize(
    ("existing", "new", "expected"),
    [
        ("integer", b"5", "integer"),
        ("integer", b"123456789012", "bigint"),
        ("integer", b"1.25", "decimal(12,2)"),
        ("bigint", b"1.5", "decimal(20,1)"),
        ("bigint", b"5", "bigint"),  # never narrowed
        ("integer", b"x", "text"),
        ("date", b"2020-01-01 10:00:00", "timestamp"),
        ("timestamp", b"2020-01-01", "timestamp"),
        ("text", b"5", "text"),
    ],
)
def test_an_existing_table_is_only_ever_widened(tmp_path, existing, new, expected):
    plan = plan_of(tmp_path, {"x.csv": b"v\n" + new + b"\n"}, existing={"v": ColumnPlan("v", "v", existing)})
    assert types(plan) == {"v": expected}


def test_a_schema_file_overrides_and_its_columns_are_checked_at_load(tmp_path):
    overrides = {"code": ColumnPlan("code", "CODE", "integer"), "amount": ColumnPlan("amount", "amount", "decimal",
                                                                                     10, 2)}
    plan = plan_of(tmp_path, {"x.csv": b"id,code,amount\n1,007,1.5\n"}, overrides=overrides)
    assert types(plan) == {"id": "integer", "code": "integer", "amount": "decimal(10,2)"}
    assert plan.column("code").source == "code"  # the file's own header
    assert plan.unverified == {"code", "amount"}


def test_a_schema_file_naming_a_column_no_file_has_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="^the schema file names columns no file has: nope, other$"):
        plan_of(tmp_path, {"x.csv": b"id\n1\n"}, overrides={"other": ColumnPlan("other", "other", "text"),
                                                           "nope": ColumnPlan("nope", "nope", "text")})


def test_a_plan_survives_json(tmp_path):
    plan = plan_of(tmp_path, {"x.csv": b"id;v\n1;2.5\n"}, overrides={"id": ColumnPlan("id", "id", "bigint")})
    assert type(plan).from_json(json.loads(json.dumps(plan.to_json()))) == plan


# -- limits checked before any DDL -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "writer", "message"),
    [
        ("t" * 63, postgres, None),
        ("t" * 64, postgres, f"table name '{'t' * 40}'… is 64 bytes; postgresql allows 63: choose a shorter --table"),
        ("é" * 32, postgres, "is 64 bytes; postgresql allows 63"),  # bytes, not characters
        ("t" * 64, mysql, None),
        ("t" * 500, sqlite, None),
        ("bad\nname", sqlite, "holds a control character"),
        ("tab\there", postgres, "holds a control character"),
    ],
)
def test_check_table_name(table, writer, message):
    if message is None:
        check_table_name(table, writer.CAPABILITIES)
    else:
        with pytest.raises(ConfigError, match=re.escape(message)):
            check_table_name(table, writer.CAPABILITIES)


@pytest.mark.parametrize(("columns", "writer", "fails"), [(1598, postgres, False), (1599, postgres, True),
                                                        (1015, mysql, False), (1016, mysql, True)])
def test_check_width_counts_the_lineage_columns(tmp_path, columns, writer, fails):
    plan = plan_of(tmp_path, {"w.csv": ",".join(f"c{i}" for i in range(columns)).encode() + b"\n"})
    if not fails:
        check_width(plan, writer.CAPABILITIES)
        return
    with pytest.raises(ConfigError) as caught:
        check_width(plan, writer.CAPABILITIES)
    assert str(caught.value) == (f"table t would need {columns + 2:,} columns (w.csv alone has {columns:,}); "
                                 f"{writer.CAPABILITIES.name} allows {writer.CAPABILITIES.max_columns:,} per table: "
                                 "load fewer columns (e.g. cut the file) or use another database")


# -- the schema file -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("s.yaml", "columns:\n  UPRN: bigint\n  Total Floor Area: decimal(10, 2)\n  day: DATE\n"),
        ("s.json", json.dumps({"columns": {"UPRN": "bigint", "Total Floor Area": "Decimal(10,2)", "day": "date"}})),
    ],
)
def test_read_schema_file(tmp_path, name, text):
    assert read_schema_file(write(tmp_path / name, text)) == {
        "uprn": ColumnPlan("uprn", "UPRN", "bigint"),
        "total_floor_area": ColumnPlan("total_floor_area", "Total Floor Area", "decimal", 10, 2),
        "day": ColumnPlan("day", "day", "date"),
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("columns:\n  a: money\n", "column 'a' has unknown type 'money'"),
        ("columns:\n  a: decimal(10)\n", "column 'a' has unknown type 'decimal(10)'"),
        ("a: integer\n", "expected a mapping 'columns: {name: type}'"),
        ("columns: [a, b]\n", "expected a mapping"),
        ("- just\n- a list\n", "expected a mapping"),
        ("columns: {a: integer\n", "schema file '.*s.yaml': while parsing"),
    ],
)
def test_a_bad_schema_file_is_one_config_error(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message if ".*" in message else re.escape(message)):
        read_schema_file(write(tmp_path / "s.yaml", text))


def test_a_missing_schema_file_is_one_config_error(tmp_path):
    with pytest.raises(ConfigError, match="^schema file '.*missing.yaml': .*No such file"):
        read_schema_file(tmp_path / "missing.yaml")
