import pytest

from data_processor.naming import column_names, shorten, snake_case


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("LMK_KEY", "lmk_key"),
        ("  Current Energy-Rating (%) ", "current_energy_rating"),
        ("\ufeffID", "id"),
        ("Café Name", "cafe_name"),
        ("CO2 / m²", "co2_m2"),
        ("", ""),
    ],
)
def test_snake_case(header, expected):
    assert snake_case(header) == expected


def test_duplicates_blanks_digits_and_reserved_words():
    names = column_names(["Name", "name", " NAME ", "", "2nd", "select", "_file_id"])
    assert names == ["name", "name_2", "name_3", "column_4", "c_2nd", "select", "file_id"]


def test_tool_column_cannot_be_taken():
    assert column_names(["_FILE_ID"]) == ["file_id"]
    assert "_file_id" not in column_names(["_file_id", "_file_id"])


def test_long_headers_sharing_a_prefix_do_not_collide():
    a, b = "x" * 70 + "_current", "x" * 70 + "_potential"
    names = column_names([a, b])
    assert len(set(names)) == 2
    assert all(len(n.encode()) <= 63 for n in names)


def test_shorten_keeps_short_names():
    assert shorten("abc", 63) == "abc"
    assert shorten("abc", None) == "abc"
