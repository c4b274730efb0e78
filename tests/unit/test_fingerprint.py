"""fingerprint: one pass over a file's bytes gives its identity (size, sha256) and how to read it."""

from __future__ import annotations

import codecs
import gzip
import hashlib

import pytest

from conftest import write
from data_processor.fingerprint import Witness, fingerprint, is_gzip, open_raw

BLOCK = 1 << 20


@pytest.mark.parametrize(
    ("content", "encoding"),
    [
        (b"id,name\n1,a\n", "utf-8"),  # plain ASCII
        (b"", "utf-8"),
        ("id,cost\n1,\u00a3100\n".encode(), "utf-8"),
        ("id,cost\n1,\u00a3100\n".encode("cp1252"), "cp1252"),  # Excel on Windows
        ("id,name\n1,Caf\u00e9 \u2013 Bar\n".encode("cp1252"), "cp1252"),  # é and an en dash (0x96)
        ("id,name\n1,Ren\u00e9e\n".encode("latin-1"), "cp1252"),  # Latin-1 is read as its superset
        (b"id,name\n1,\x81\x8d\x8f\x90\x9d\n", "cp1252"),  # the five bytes cp1252 leaves undefined
        (codecs.BOM_UTF8 + b"id,name\n1,a\n", "utf-8-sig"),
        ("id\tname\n1\t\u00e9\n".encode("utf-16"), "utf-16"),  # BOM, little-endian
        (codecs.BOM_UTF16_BE + "id\n1\n".encode("utf-16-be"), "utf-16"),
        # UTF-8 with one corrupt byte stays UTF-8 (its rows are rejected); switching would garble every £
        ("id,cost\n1,\u00a35\n".encode() + b"2,\xff\n", "utf-8"),
        # a multi-byte character cut by the end of the file: not valid UTF-8, and nothing else looks like it
        (b"id\n1\xc2", "cp1252"),
        # a multi-byte character across the 1 MB read boundary is still valid UTF-8
        (b"id\n" + b"x" * (BLOCK - 4) + "\u00a3".encode() + b"\n", "utf-8"),
        # ... but cp1252's Â ending one block and £ starting the block after an all-ASCII one are not one character
        (b"id\n" + b"x" * (BLOCK - 4) + b"\xc2" + b"\n" * BLOCK + b"\xa3\n", "cp1252"),
    ],
)
def test_encoding(tmp_path, content, encoding):
    assert fingerprint(write(tmp_path / "x.csv", content)).encoding == encoding


@pytest.mark.parametrize(
    ("content", "has_nul", "odd_quotes"),
    [
        (b"a,b\n1,2\n", False, False),
        (b"a,b\n1,x\x00y\n", True, False),
        (b"a,b\n1," + b"x" * BLOCK + b"\x00\n", True, False),  # in a later block
        (b'a,b\n1,12" pipe\n', False, True),  # an inch mark (harmless) or an unclosed quote: the scan tells
        (b'a,b\n1,"x ""y"" z"\n', False, False),
        ("a\tb\n1\t\u00e9\n".encode("utf-16"), False, False),  # UTF-16 is full of NULs: none of them counts
    ],
)
def test_nul_bytes_and_quotes(tmp_path, content, has_nul, odd_quotes):
    found = fingerprint(write(tmp_path / "x.csv", content))
    assert (found.has_nul, found.odd_quotes) == (has_nul, odd_quotes)


def test_identity_is_of_the_bytes_on_disk(tmp_path):
    content = "id,cost\n1,\u00a3100\n".encode("cp1252") * 50_000  # more than one block
    found = fingerprint(write(tmp_path / "x.csv", content))
    assert (found.size, found.sha256) == (len(content), hashlib.sha256(content).hexdigest())
    assert found.compression is None


def test_gzip_is_found_by_its_magic_bytes_and_read_inside(tmp_path):
    inner = codecs.BOM_UTF8 + b"id,name\n1,\x00\n"
    packed = gzip.compress(inner)
    path = write(tmp_path / "no-gz-suffix.csv", packed)
    found = fingerprint(path)
    assert (found.compression, found.encoding, found.has_nul) == ("gzip", "utf-8-sig", True)
    assert (found.size, found.sha256) == (len(packed), hashlib.sha256(packed).hexdigest())  # of the file as stored
    assert is_gzip(path) and not is_gzip(write(tmp_path / "plain.csv.gz", b"id\n1\n"))
    with open_raw(path, "gzip") as f:
        assert f.read() == inner


def test_cp1252_gzip(tmp_path):
    found = fingerprint(write(tmp_path / "x.csv", gzip.compress("id\n\u00a3\n".encode("cp1252"))))
    assert (found.compression, found.encoding) == ("gzip", "cp1252")


def test_the_lenient_codec_never_fails_on_bytes_cp1252_leaves_undefined():
    assert b"\x80\x81a".decode("cp1252", errors="cp1252-latin1") == "\u20ac\x81a"


@pytest.mark.parametrize("read", [0, 10, None])
def test_witness_hashes_the_whole_file_however_much_was_read(tmp_path, read):
    content = b"id\n" + b"1234567\n" * 300_000
    path = write(tmp_path / "x.csv", content)
    witness = Witness()
    with open_raw(path, None, witness) as f:
        f.read() if read is None else f.read(read)
    expected = (len(content), hashlib.sha256(content).hexdigest())
    assert witness.matches(*expected)
    assert not witness.matches(len(content), hashlib.sha256(b"other").hexdigest())


def test_witness_sees_the_compressed_bytes_of_a_gzip(tmp_path):
    packed = gzip.compress(b"id\n" + b"1\n" * 1000)
    path = write(tmp_path / "x.csv.gz", packed)
    witness = Witness()
    with open_raw(path, "gzip", witness) as f:
        assert f.read(3) == b"id\n"
    assert witness.finish() == (len(packed), hashlib.sha256(packed).hexdigest())
