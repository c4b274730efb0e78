"""Null markers made empty fields in the bytes (``null_markers``): the same table as Arrow's reading of the markers
as null, on every shape of field around them."""

from __future__ import annotations

import io
import random

import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest

from data_processor.null_markers import MarkersBlanked, blankable

MARKER = "NO DATA!"
FIELDS = [  # what a field can look like beside a marker; each quoted field keeps its quotes balanced
    "NO DATA!", '"NO DATA!"', "", '""', "x", "NO DATA!x", "xNO DATA!", '"a,NO DATA!,b"', '"NO DATA!,"',
    '"say ""NO DATA!"""', '"line\nNO DATA!\nbreak"', '"\nNO DATA!"', "NO DATA! ", " NO DATA!", "NODATA!",
    "12", "NO DATA!NO DATA!",
]


def read(data: bytes, null_values: list[str], delimiter: str = ",") -> list[dict]:
    table = pa_csv.read_csv(io.BytesIO(data), parse_options=pa_csv.ParseOptions(delimiter=delimiter,
                                                                                  newlines_in_values=True),
                            convert_options=pa_csv.ConvertOptions(
                                column_types={f"c{i}": pa.string() for i in range(4)}, null_values=["", *null_values],
                                strings_can_be_null=True, quoted_strings_can_be_null=True))
    return table.to_pylist()


def blank(data: bytes, markers: tuple[str, ...] = (MARKER,), delimiter: str = ",", read_size: int = 1 << 20) -> bytes:
    stream = MarkersBlanked(io.BytesIO(data), markers, delimiter)
    parts = []
    while part := stream.read(read_size):
        parts.append(part)
    return b"".join(parts)


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_random_files_read_the_same_as_arrow_reads_the_markers(seed, newline, monkeypatch):
    """Random rows of every field shape, cut into blocks of random sizes (so block ends fall anywhere, inside
    quoted fields too): the blanked bytes read with no marker equal the original read with the marker."""
    rng = random.Random(seed)
    monkeypatch.setattr("data_processor.null_markers.READ_SIZE", rng.choice([7, 64, 1000, 1 << 20]))
    rows = [",".join(rng.choice(FIELDS) for _ in range(4)) for _ in range(rng.randint(1, 60))]
    data = ("c0,c1,c2,c3" + newline + newline.join(rows) + rng.choice(["", newline])).encode()
    assert read(blank(data, read_size=rng.choice([1, 5, 1 << 20])), []) == read(data, [MARKER])


def test_only_whole_fields_outside_quotes_are_blanked():
    data = b'c0,c1,c2,c3\nNO DATA!,"NO DATA!","a,NO DATA!,b",NO DATA!x\n"q\nNO DATA!",NO DATA!,x,"NO DATA!"'
    assert blank(data) == b'c0,c1,c2,c3\n,,"a,NO DATA!,b",NO DATA!x\n"q\nNO DATA!",,x,'


def test_other_delimiters_and_several_markers():
    data = b"c0;c1;c2;c3\nNA;-;NA,x;n/a\n"
    assert blank(data, ("NA", "-"), ";") == b"c0;c1;c2;c3\n;;NA,x;n/a\n"


@pytest.mark.parametrize("markers, delimiter, ok", [
    (("NO DATA!",), ",", True), (("a,b",), ",", False), (('say "x"',), ",", False), (("",), ",", False),
    (("two\nlines",), ",", False), (("a,b",), ";", True), (("x;y",), ";", False),
])
def test_markers_that_cannot_be_blanked_in_the_bytes_are_left_to_the_validating_load(markers, delimiter, ok):
    assert blankable(markers, delimiter) is ok
