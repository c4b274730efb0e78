"""The current-layout generator writes what the service publishes: per-year files, lower-case headers,
certificate_number, a column order that moves between years, and the same files in domestic-csv.zip."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import pytest

from samples.cli import main
from samples.epc_current import ARCHIVE_NAME, generate_current_dump

NUMBER = re.compile(r"^\d{4}-\d{4}-\d{4}-\d{4}-\d{4}$")


@pytest.fixture(scope="module")
def dump(tmp_path_factory):
    return generate_current_dump(tmp_path_factory.mktemp("current"), 2.0, seed=3, archive=True)


def rows(path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_one_file_per_year_and_kind(dump):
    names = sorted(p.name for p in dump.root.iterdir())
    years = sorted({int(n.split("-")[1][:4]) for n in names if n.startswith("certificates-")})
    assert len(years) >= 10
    assert names == sorted([ARCHIVE_NAME, *(f"{k}-{y}.csv" for y in years for k in ("certificates", "recommendations"))])
    for path in dump.files[:6:2]:
        year = path.name[len("certificates-"):-4]
        assert all(r["lodgement_date"].startswith(year) for r in rows(path))


def test_headers_are_the_new_ones_in_an_order_that_moves(dump):
    headers = {}
    for path in dump.files:
        with open(path, encoding="utf-8") as f:
            headers[path.name] = f.readline().rstrip("\n").split(",")
    certificate_headers = {tuple(h) for n, h in headers.items() if n.startswith("certificates-")}
    assert len(certificate_headers) > 1  # not the same order every year
    columns = set(next(iter(certificate_headers)))
    assert all(set(h) == columns for h in certificate_headers)
    assert all(name == name.lower() for name in columns)
    assert {"certificate_number", "report_type", "region", "country", "low_energy_fixed_lighting_outlets_count"} <= columns
    assert not {"lmk_key", "building_reference_number", "county"} & columns
    assert 90 <= len(columns) <= 95
    assert {tuple(h) for n, h in headers.items() if n.startswith("recommendations-")} == {
        ("certificate_number", "improvement_item", "improvement_summary_text", "improvement_descr_text",
         "improvement_id", "improvement_id_text", "indicative_cost")}


def test_certificate_numbers_are_unique_and_recommendations_point_at_them(dump):
    numbers, referenced = [], set()
    for path in dump.files:
        if path.name.startswith("certificates-"):
            found = rows(path)
            numbers += [r["certificate_number"] for r in found]
            assert {r["country"] for r in found} <= {"England", "Wales", ""}
        else:
            referenced |= {r["certificate_number"] for r in rows(path)}
    assert len(numbers) == dump.certificate_rows == len(set(numbers))
    assert all(NUMBER.match(n) for n in numbers)
    assert referenced and referenced <= set(numbers)


def test_the_zip_holds_the_same_files_deflated(dump):
    with zipfile.ZipFile(dump.archive) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == [p.name for p in dump.files]
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in infos)
        assert archive.read(infos[0]) == dump.files[0].read_bytes()
    assert dump.archive.stat().st_size < sum(p.stat().st_size for p in dump.files) / 3


def test_same_seed_same_bytes(dump, tmp_path):
    again = generate_current_dump(tmp_path / "again", 2.0, seed=3, archive=True)
    assert again.archive.read_bytes() == dump.archive.read_bytes()


def test_command_line(tmp_path, capsys):
    assert main([str(tmp_path / "cli"), "--layout", "current", "--zip", "--mb", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "years" in out and ARCHIVE_NAME in out
    with zipfile.ZipFile(tmp_path / "cli" / ARCHIVE_NAME) as archive:
        first = archive.namelist()[0]
        assert re.match(r"^certificates-\d{4}\.csv$", first)
        assert next(csv.reader(io.TextIOWrapper(archive.open(first), encoding="utf-8")))[0] == "certificate_number"
    with pytest.raises(SystemExit):
        main([str(tmp_path / "bad"), "--zip"])  # --zip is for the current layout
