"""sniff: a sample's delimiter, and how many whole records a cut sample holds (pure: text in, answer out)."""

from __future__ import annotations

import pytest

from data_processor.sniff import SNIFF_ROWS, complete_records, sniff_delimiter


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("a,b\n1,2\n", ","),
        ("a;b\n1;2\n", ";"),
        ("a\tb\n1\t2\n", "\t"),
        ("a|b\n1|2\n", "|"),
        ("a;b\r\n1;2\r\n", ";"),  # CRLF
        ("a;b\r1;2\r", ";"),  # old Mac line ends
        ("a;b\n1,5;2\n3,25;4\n", ";"),  # decimal commas inside a semicolon file
        ('"Floor; level",b\n1,2\n', ","),  # a delimiter inside a quoted header cell never counts
        ('a;b\n"x\ny";2\n', ";"),  # a quoted newline is not a record end
        ('a|b\n"1|2"|3\n', "|"),
        ("a,b;c;d\n1,2;3;4\n5;6;7\n", ";"),  # the comma splits the header, but not the rows into its width
        ("a,b;c\n1,2;3\n", ","),  # both split every record alike: order of DELIMITERS decides
        ("a;b,c;d\n1,2\n3,4\n", ","),  # consistency before width: ';' makes the wider header, ',' fits the rows
        ("name\nvalue\n", ","),  # one column: nothing splits the header, so comma
        ("name\n1,2\n3,4\n", ","),
        ("", ","),
        ("\n\n", ","),
        ("\n\nid;name\n1;a\n", ";"),  # blank lines before the header
    ],
)
def test_sniff_delimiter(sample, expected):
    assert sniff_delimiter(sample) == expected


def test_a_cut_sample_ignores_its_last_record():
    """Cut mid-record, the last line looks like a one-field row; it must not count against the real delimiter."""
    sample = "a,b;c\n1,2;3\n4;5"
    assert sniff_delimiter(sample, complete=True) == ";"
    assert sniff_delimiter(sample, complete=False) == ","


def test_only_the_first_records_are_looked_at():
    """Both delimiters split the first records alike (comma wins the tie); rows after them would favour ';'."""
    first = "a,b;c\n" + "1,2;3\n" * (SNIFF_ROWS - 1)
    later = "1;2,3,4\n" * 500
    assert sniff_delimiter(first + later) == ","
    assert sniff_delimiter("a,b;c\n" + later) == ";"


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("", 0),
        ("a,b", 0),  # the only record may be cut
        ("a,b\n1,2", 1),
        ("a,b\n1,2\n", 1),  # the last record is never counted, even with its line end
        ("a,b\n1,2\n3,4\n", 2),
        ('a,b\n"1\n2",3\n4,5\n', 2),  # a quoted newline does not start a record
        ('a,b\n"1\n2', 1),  # a quote still open at the cut
        ("a\n\n\nb\nc\n", 2),  # blank lines are not records
    ],
)
def test_complete_records(sample, expected):
    assert complete_records(sample) == expected
