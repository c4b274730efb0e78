"""read: the header and delimiter of a file, its rows as raw bytes, and where a rejected row starts."""

from __future__ import annotations

import codecs
import gzip
from pathlib import Path

import pyarrow as pa
import pytest

from conftest import write
from data_processor import read
from data_processor.fingerprint import Witness, fingerprint
from data_processor.read import decode_utf8, iter_batches, locate_rows, read_header, unclosed_quote_line
from data_processor.types import CsvDialect

BOM = codecs.BOM_UTF8


def dialect_of(path: Path) -> CsvDialect:
    """How the planning scan would read the file: the fingerprint's encoding and compression, the sniffed delimiter."""
    found = fingerprint(path)
    dialect = CsvDialect(encoding=found.encoding, compression=found.compression)
    delimiter, _ = read_header(path, dialect)
    return CsvDialect(found.encoding, delimiter, found.compression)


def header_of(path: Path) -> tuple[str, list[str]]:
    found = fingerprint(path)
    return read_header(path, CsvDialect(encoding=found.encoding, compression=found.compression))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"id,name\n1,a\n", (",", ["id", "name"])),
        (b"id;name\n1;a\n", (";", ["id", "name"])),
        (b"id\tname\n1\ta\n", ("\t", ["id", "name"])),
        (b"id|name\n1|a\n", ("|", ["id", "name"])),
        (b"only\n1\n2\n", (",", ["only"])),  # one column
        (b"id,name\r\n1,a\r\n", (",", ["id", "name"])),
        (b"id;name\r1;a\r", (";", ["id", "name"])),
        (BOM + b"id,name\n1,a\n", (",", ["id", "name"])),  # the byte-order mark is not part of the first name
        (BOM + b"\n\nid;name\n1;a\n", (";", ["id", "name"])),  # nor a record of its own before blank lines
        (BOM + b"\r\nid|name\r\n1|a\r\n", ("|", ["id", "name"])),
        (BOM, (",", [])),  # a byte-order mark and nothing else
        (b'"Floor; level",b\n1,2\n', (",", ["Floor; level", "b"])),
        (b'"first\nsecond",b\n1,2\n', (",", ["first\nsecond", "b"])),  # a quoted newline inside the header
        (b"  id  , name \n1,a\n", (",", ["id", "name"])),  # trimmed
        (b"\n\nid,name\n1,a\n", (",", ["id", "name"])),  # blank lines before it
        (b"id,name", (",", ["id", "name"])),  # header only, no final newline
        (b"id,name\n", (",", ["id", "name"])),
        (b"", (",", [])),
        ("Co\u00fbt;\u00a3\n1;2\n".encode("cp1252"), (";", ["Co\u00fbt", "\u00a3"])),
        ("id\tname\n1\ta\n".encode("utf-16"), ("\t", ["id", "name"])),
        (gzip.compress(b"id|name\n1|a\n"), ("|", ["id", "name"])),
    ],
)
def test_read_header(tmp_path, content, expected):
    assert header_of(write(tmp_path / "x.csv", content)) == expected


def test_a_header_whose_quote_never_closes_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(read, "MAX_HEADER_BYTES", 1 << 20)
    path = write(tmp_path / "x.csv", b'"id,name\n' + b"1,a\n" * 600_000)
    with pytest.raises(ValueError, match="^the header row is longer than 1 MB, or a quote in it never closes$"):
        header_of(path)


def rows_of(content: bytes, tmp_path: Path, null_values: tuple[str, ...] = ()) -> tuple[list, list, int]:
    """Every data row as a tuple of bytes, the ragged rows (text, fields) and the count of repeated headers."""
    path = write(tmp_path / "x.csv", content)
    dialect = dialect_of(path)
    width = len(header_of(path)[1])
    ragged: list[tuple[str, int]] = []
    repeated: list[None] = []
    batches = iter_batches(path, dialect, width, null_values, lambda text, n: ragged.append((text, n)),
                           lambda: repeated.append(None))
    return [tuple(row.values()) for batch in batches for row in batch.to_pylist()], ragged, len(repeated)


@pytest.mark.parametrize(
    ("content", "rows"),
    [
        (b"a,b\n1,2\n", [(b"1", b"2")]),
        (b"a;b\n1,5;2\n", [(b"1,5", b"2")]),
        (b"a\tb\n1\t2\n", [(b"1", b"2")]),
        (b"a|b\n1|2\n", [(b"1", b"2")]),
        (b"a\n1\n\n2\n", [(b"1",), (b"2",)]),  # one column; a blank line is not a row
        (b"a,b\r\n1,2\r\n3,4\r\n", [(b"1", b"2"), (b"3", b"4")]),
        (b'a,b\n"x,y","1\r\n2"\n', [(b"x,y", b"1\r\n2")]),  # quoted delimiter and quoted CRLF kept
        (b'a,b\n1,"say ""hi"""\n', [(b"1", b'say "hi"')]),
        (b'a,b,c\n1,,""\n', [(b"1", None, None)]),  # empty, quoted or not, is null
        (b"a,b\n 007 , x \n", [(b" 007 ", b" x ")]),  # whitespace and leading zeros as they are
        (b"a,b\n1,x\x00y\n", [(b"1", b"x\x00y")]),  # NUL reaches validation
        (b"a\n\xff\n\xc3\xa9\n", [(b"\xff",), (b"\xc3\xa9",)]),  # corrupt UTF-8: the bytes reach validation
        ("a\n\u00a3\n".encode("cp1252"), [("\u00a3".encode(),)]),  # recoded to UTF-8
        ("a\tb\n1\t\u00e9\n".encode("utf-16"), [(b"1", "\u00e9".encode())]),
        (BOM + b"a,b\n1,2\n", [(b"1", b"2")]),
        (gzip.compress(b"a,b\n1,2\n"), [(b"1", b"2")]),
        (b"a,b\n", []),  # header only
        (b"a,b", []),
        (b"a,b\nb,a\n", [(b"b", b"a")]),  # the header's values in another order are data
    ],
)
def test_iter_batches(tmp_path, content, rows):
    assert rows_of(content, tmp_path) == (rows, [], 0)


def test_ragged_rows_are_handed_over_in_file_order_and_skipped(tmp_path):
    rows, ragged, _ = rows_of(b"a,b\n1,2\n3\n4,5,6\n7,8\n", tmp_path)
    assert rows == [(b"1", b"2"), (b"7", b"8")]
    assert ragged == [("3", 1), ("4,5,6", 3)]


@pytest.mark.parametrize(
    "content",
    [
        b"a,b\n1,2\na,b\n3,4\n",
        BOM + b"a,b\n1,2\n" + BOM + b"a,b\n3,4\n",  # two Excel exports concatenated
        b"a,b\r\n1,2\r\na,b\r\n3,4\r\n",
    ],
)
def test_a_repeated_header_is_counted_and_skipped(tmp_path, content):
    assert rows_of(content, tmp_path) == ([(b"1", b"2"), (b"3", b"4")], [], 1)


def test_null_values(tmp_path):
    rows, _, _ = rows_of(b"a,b\nNA,x\nna,NO DATA\n", tmp_path, ("NA", "NO DATA"))
    assert rows == [(None, b"x"), (b"na", None)]


def test_batches_are_joined_to_about_batch_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(read, "BLOCK_SIZE", 4 << 10)
    path = write(tmp_path / "x.csv", b"id,name\n" + b"".join(b"%d,name %d\n" % (i, i) for i in range(40_000)))
    batches = list(iter_batches(path, dialect_of(path), 2, batch_bytes=64 << 10))
    assert sum(b.num_rows for b in batches) == 40_000
    assert 1 < len(batches) < 40  # joined, not one per 4 kB block
    assert batches[0].column(0)[0].as_py() == b"0" and batches[-1].column(0)[-1].as_py() == b"39999"


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (b'a,b\n1,"never closed\n2,x\n3,y\n', 2),
        (b'a\n"open\n\n\n', 2),
        (b'a,b\n1,12" pipe\n2,x\n', None),  # an inch mark inside an unquoted field is data
        (b'a,b\n1,"x ""y"" z"\n', None),
        (b'a,b\n1,"two\nlines"\n2,"open\n', 4),
    ],
)
def test_unclosed_quote_line(tmp_path, content, line):
    assert unclosed_quote_line(write(tmp_path / "x.csv", content), CsvDialect()) == line


MESSY = (
    b"id,name\n"  # 1
    b"1,a\n"  # 2: good 0
    b"2\n"  # 3: ragged 0
    b'"3","multi\nline"\n'  # 4-5: good 1
    b"\n"  # 6: blank
    b"4,b,c\n"  # 7: ragged 1
    b"id,name\n"  # 8: repeated 0
    b"5,e\r\n"  # 9: good 2
    b"6,f\n"  # 10: good 3
)


def test_locate_rows_finds_the_physical_line_and_raw_text(tmp_path):
    path = write(tmp_path / "x.csv", MESSY)
    good, ragged, repeated, _ = locate_rows(path, CsvDialect(), 2, {0, 1, 3}, {0, 1}, {0})
    assert good == {0: (2, "1,a"), 1: (4, '"3","multi\nline"'), 3: (10, "6,f")}
    assert ragged == {0: (3, "2"), 1: (7, "4,b,c")}
    assert repeated == {0: (8, "id,name")}


def test_locate_rows_numbers_rows_as_iter_batches_delivers_them(tmp_path):
    path = write(tmp_path / "x.csv", MESSY)
    delivered = [b.to_pylist() for b in iter_batches(path, CsvDialect(), 2)][0]
    good, _, _, _ = locate_rows(path, CsvDialect(), 2, set(range(len(delivered))), set())
    assert [text for _, text in good.values()] == ["1,a", '"3","multi\nline"', "5,e", "6,f"]
    assert [row["f1"] for row in delivered] == [b"a", b"multi\nline", b"e", b"f"]


def test_locate_rows_with_a_byte_order_mark(tmp_path):
    path = write(tmp_path / "bom.csv", BOM + b"id,name\n1,a\n" + BOM + b"id,name\n2,b\n")
    assert locate_rows(path, CsvDialect(encoding="utf-8-sig"), 2, {1}, set(), {0}) == (
        {1: (4, "2,b")}, {}, {0: (3, "\ufeffid,name")}, {})


def test_locate_rows_after_a_byte_order_mark_on_a_line_of_its_own(tmp_path):
    """Arrow skips the mark and the blank lines after it; so must the count of rows and lines."""
    path = write(tmp_path / "x.csv", BOM + b"\n" + MESSY.replace(b",", b";"))
    assert locate_rows(path, CsvDialect(encoding="utf-8-sig", delimiter=";"), 2, {2}, {1}, {0}) == (
        {2: (10, "5;e")}, {1: (8, "4;b;c")}, {0: (9, "id;name")}, {})


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("encoding", ["cp1252", "utf-16"])
@pytest.mark.parametrize("witness", [None, Witness])
def test_locate_rows_gives_the_raw_text_of_a_recoded_file_as_written(tmp_path, encoding, packed, witness):
    """What a reject's raw text shows for a cp1252 or UTF-16 file, plain or gzipped (not U+FFFD for every £)."""
    content = "id,cost\n1,\u00a35\n2,\u00a36,extra\n".encode(encoding)
    path = write(tmp_path / "x.csv", gzip.compress(content) if packed else content)
    dialect = CsvDialect(encoding=encoding, compression="gzip" if packed else None)
    found = locate_rows(path, dialect, 2, {0}, {0}, witness=witness and witness())
    assert found == ({0: (2, "1,\u00a35")}, {0: (3, "2,\u00a36,extra")}, {}, {})


def test_locate_rows_with_nothing_wanted_reads_nothing(tmp_path):
    assert locate_rows(tmp_path / "missing.csv", CsvDialect(), 2, set(), set()) == ({}, {}, {}, {})


def test_decode_utf8():
    column = pa.array([b"a", None, b"\xff", "\u00a3".encode(), b"\xc2"], pa.binary())
    text, bad = decode_utf8(column)
    assert text.to_pylist() == ["a", None, None, "\u00a3", None]
    assert bad == [2, 4]
    assert decode_utf8(pa.array([b"x", None], pa.binary()))[1] == []
