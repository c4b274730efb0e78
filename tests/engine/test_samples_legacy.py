"""The EPC-like generator writes what tests, ``make run`` and the benchmark rely on: the real layout, the real
92-column header, and the value shapes and messiness of the real dump, deterministically and quickly."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from samples.authorities import default_authorities
from samples.cli import main
from samples.columns import (
    CERTIFICATE_COLUMNS, DATE_COLUMNS, DATETIME_COLUMNS, DECIMAL_COLUMNS, INTEGER_COLUMNS, RECOMMENDATION_COLUMNS,
)
from samples.dump import GeneratedDump
from samples.epc_legacy import generate_epc_dump

# Written out independently of the module, in file order, from shared/EPC_SCHEMA.md.
EPC_HEADER = """LMK_KEY ADDRESS1 ADDRESS2 ADDRESS3 POSTCODE BUILDING_REFERENCE_NUMBER CURRENT_ENERGY_RATING
POTENTIAL_ENERGY_RATING CURRENT_ENERGY_EFFICIENCY POTENTIAL_ENERGY_EFFICIENCY PROPERTY_TYPE BUILT_FORM INSPECTION_DATE
LOCAL_AUTHORITY CONSTITUENCY COUNTY LODGEMENT_DATE TRANSACTION_TYPE ENVIRONMENT_IMPACT_CURRENT
ENVIRONMENT_IMPACT_POTENTIAL ENERGY_CONSUMPTION_CURRENT ENERGY_CONSUMPTION_POTENTIAL CO2_EMISSIONS_CURRENT
CO2_EMISS_CURR_PER_FLOOR_AREA CO2_EMISSIONS_POTENTIAL LIGHTING_COST_CURRENT LIGHTING_COST_POTENTIAL
HEATING_COST_CURRENT HEATING_COST_POTENTIAL HOT_WATER_COST_CURRENT HOT_WATER_COST_POTENTIAL TOTAL_FLOOR_AREA
ENERGY_TARIFF MAINS_GAS_FLAG FLOOR_LEVEL FLAT_TOP_STOREY FLAT_STOREY_COUNT MAIN_HEATING_CONTROLS
MULTI_GLAZE_PROPORTION GLAZED_TYPE GLAZED_AREA EXTENSION_COUNT NUMBER_HABITABLE_ROOMS NUMBER_HEATED_ROOMS
LOW_ENERGY_LIGHTING NUMBER_OPEN_FIREPLACES HOTWATER_DESCRIPTION HOT_WATER_ENERGY_EFF HOT_WATER_ENV_EFF
FLOOR_DESCRIPTION FLOOR_ENERGY_EFF FLOOR_ENV_EFF WINDOWS_DESCRIPTION WINDOWS_ENERGY_EFF WINDOWS_ENV_EFF
WALLS_DESCRIPTION WALLS_ENERGY_EFF WALLS_ENV_EFF SECONDHEAT_DESCRIPTION SHEATING_ENERGY_EFF SHEATING_ENV_EFF
ROOF_DESCRIPTION ROOF_ENERGY_EFF ROOF_ENV_EFF MAINHEAT_DESCRIPTION MAINHEAT_ENERGY_EFF MAINHEAT_ENV_EFF
MAINHEATCONT_DESCRIPTION MAINHEATC_ENERGY_EFF MAINHEATC_ENV_EFF LIGHTING_DESCRIPTION LIGHTING_ENERGY_EFF
LIGHTING_ENV_EFF MAIN_FUEL WIND_TURBINE_COUNT HEAT_LOSS_CORRIDOR UNHEATED_CORRIDOR_LENGTH FLOOR_HEIGHT
PHOTO_SUPPLY SOLAR_WATER_HEATING_FLAG MECHANICAL_VENTILATION ADDRESS LOCAL_AUTHORITY_LABEL CONSTITUENCY_LABEL
POSTTOWN CONSTRUCTION_AGE_BAND LODGEMENT_DATETIME TENURE FIXED_LIGHTING_OUTLETS_COUNT
LOW_ENERGY_FIXED_LIGHT_COUNT UPRN UPRN_SOURCE""".split()
RECOMMENDATIONS_HEADER = ["LMK_KEY", "IMPROVEMENT_ITEM", "IMPROVEMENT_SUMMARY_TEXT", "IMPROVEMENT_DESCR_TEXT",
                          "IMPROVEMENT_ID", "IMPROVEMENT_ID_TEXT", "INDICATIVE_COST"]
FOLDER = re.compile(r"^domestic-(?:[EW]0\d{7}-[A-Za-z-]+|_unknown_local_authority--Unknown-Local-Authority-)$")
TARGET_MB = 1.5


def read(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


@pytest.fixture(scope="module")
def dump(tmp_path_factory) -> GeneratedDump:
    return generate_epc_dump(tmp_path_factory.mktemp("epc"), TARGET_MB, seed=5)


@pytest.fixture(scope="module")
def certificates(dump) -> dict[str, list[str]]:
    """Every certificate value by column, over all folders."""
    values: dict[str, list[str]] = defaultdict(list)
    for path in dump.files:
        if path.name == "certificates.csv":
            for row in read(path)[1:]:
                for name, value in zip(CERTIFICATE_COLUMNS, row):
                    values[name].append(value)
    return values


def test_layout_is_the_real_dump_s(dump):
    folders = sorted(p.name for p in dump.root.iterdir())
    assert len(folders) == default_authorities(TARGET_MB) == 3
    assert all(FOLDER.match(name) for name in folders), folders
    assert "domestic-E06000001-Hartlepool" in folders
    assert any(name.startswith("domestic-W06") for name in folders)
    assert "domestic-_unknown_local_authority--Unknown-Local-Authority-" in folders
    assert sorted(dump.files) == sorted(dump.root.glob("*/*.csv"))
    assert Counter(p.name for p in dump.files) == {"certificates.csv": 3, "recommendations.csv": 3}


def test_header_is_the_92_columns_in_order(dump):
    assert CERTIFICATE_COLUMNS == EPC_HEADER and len(EPC_HEADER) == 92
    assert RECOMMENDATION_COLUMNS == RECOMMENDATIONS_HEADER
    for path in dump.files:
        rows = read(path)
        expected = EPC_HEADER if path.name == "certificates.csv" else RECOMMENDATIONS_HEADER
        assert rows[0] == expected
        assert {len(row) for row in rows} == {len(expected)}, path


def test_counts_size_and_encoding(dump):
    certificate_rows = sum(len(read(p)) - 1 for p in dump.files if p.name == "certificates.csv")
    recommendation_rows = sum(len(read(p)) - 1 for p in dump.files if p.name == "recommendations.csv")
    assert (dump.certificate_rows, dump.recommendation_rows) == (certificate_rows, recommendation_rows)
    sizes = {p: p.stat().st_size for p in dump.files}
    assert dump.total_bytes == sum(sizes.values())
    assert abs(dump.total_bytes - TARGET_MB * 1e6) <= 0.1 * TARGET_MB * 1e6
    certificate_share = sum(s for p, s in sizes.items() if p.name == "certificates.csv") / dump.total_bytes
    assert 0.78 < certificate_share < 0.92
    for path in dump.files:
        raw = path.read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf") and b"\r" not in raw and raw.endswith(b"\n")
        raw.decode("utf-8")


def test_written_exactly_as_csv_module_quote_minimal(dump):
    """Pre-quoted pools must give the bytes csv.writer would write; commas and the £ force quotes."""
    for path in dump.files:
        raw = path.read_text(encoding="utf-8")
        again = io.StringIO()
        csv.writer(again, lineterminator="\n").writerows(csv.reader(io.StringIO(raw)))
        assert again.getvalue() == raw, path
    text = "".join(p.read_text(encoding="utf-8") for p in dump.files)
    assert '"Cavity wall, as built, insulated (assumed)"' in text or '"Cavity wall, as built, no insulation' in text
    assert '"£500 - £1,500"' in text and ",£100 - £350" in text


def test_same_seed_same_bytes_other_seed_other_bytes(dump, tmp_path):
    again = generate_epc_dump(tmp_path / "again", TARGET_MB, seed=5)
    assert [p.relative_to(again.root) for p in again.files] == [p.relative_to(dump.root) for p in dump.files]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(again.files, dump.files))
    other = generate_epc_dump(tmp_path / "other", 0.3, seed=6, authorities=1)
    assert [p.parent.name for p in other.files] == ["domestic-E06000001-Hartlepool"] * 2
    assert other.files[0].read_bytes()[:2000] != dump.files[0].read_bytes()[:2000]


def test_keys_and_identifiers(certificates):
    keys = certificates["LMK_KEY"]
    assert all(re.fullmatch(r"[1-9]\d{31}", k) for k in keys)
    assert len(set(keys)) == len(keys)
    uprns = certificates["UPRN"]
    assert all(re.fullmatch(r"[1-9]\d{11}", u) or u == "" for u in uprns)
    assert "" in uprns
    assert all(re.fullmatch(r"[A-Z]{1,2}\d{1,2} \d[A-Z]{2}", p) for p in certificates["POSTCODE"])
    assert {"", "E06000001"} <= set(certificates["LOCAL_AUTHORITY"])
    assert all(re.fullmatch(r"[1-9]\d*", v) for v in certificates["BUILDING_REFERENCE_NUMBER"])


def test_numbers_dates_and_ratings(certificates):
    for name in INTEGER_COLUMNS:
        assert all(re.fullmatch(r"0|[1-9]\d*", v) for v in certificates[name] if v), name
    for name in DECIMAL_COLUMNS:
        assert all(re.fullmatch(r"\d+\.\d+", v) for v in certificates[name] if v), name
        assert any(certificates[name]), name
    assert "" in certificates["CURRENT_ENERGY_EFFICIENCY"] and "" in certificates["EXTENSION_COUNT"]
    efficiencies = [int(v) for v in certificates["CURRENT_ENERGY_EFFICIENCY"] if v]
    assert 1 <= min(efficiencies) and max(efficiencies) <= 100
    for name in DATE_COLUMNS:
        dates = [dt.date.fromisoformat(v) for v in certificates[name]]
        assert dt.date(2008, 10, 1) <= min(dates) and max(dates) <= dt.date(2025, 2, 1)
    for name in DATETIME_COLUMNS:
        assert all(dt.datetime.strptime(v, "%Y-%m-%d %H:%M:%S") for v in certificates[name])
    assert all(t.startswith(d) for t, d in zip(certificates["LODGEMENT_DATETIME"], certificates["LODGEMENT_DATE"]))
    assert set(certificates["CURRENT_ENERGY_RATING"]) <= set("ABCDEFG") | {"INVALID!"}
    assert set("BCDEF") <= set(certificates["CURRENT_ENERGY_RATING"])


def test_the_real_messiness(certificates):
    values = {name: set(v) for name, v in certificates.items()}
    assert "None" in values["SECONDHEAT_DESCRIPTION"]
    assert "N/A" in values["FLOOR_ENERGY_EFF"] and "N/A" in values["ROOF_ENV_EFF"]
    assert {"01", "NODATA!", ""} <= values["FLOOR_LEVEL"] and {"Ground", "00", "1st"} & values["FLOOR_LEVEL"]
    assert "NO DATA!" in values["BUILT_FORM"] | values["GLAZED_TYPE"]
    assert any("W/m²K" in v for v in values["WALLS_DESCRIPTION"] | values["ROOF_DESCRIPTION"])
    assert any("?" in v for v in values["WALLS_DESCRIPTION"] | values["LIGHTING_DESCRIPTION"])  # Welsh, lost '
    assert any(v.startswith("England and Wales: ") for v in values["CONSTRUCTION_AGE_BAND"])
    assert any(", " in v for v in values["ADDRESS"]) and all(v == v.upper() for v in values["POSTTOWN"])


def test_recommendations_belong_to_certificates(dump, certificates):
    keys = set(certificates["LMK_KEY"])
    items: dict[str, list[int]] = defaultdict(list)
    costs = set()
    for path in dump.files:
        if path.name == "recommendations.csv":
            for row in read(path)[1:]:
                items[row[0]].append(int(row[1]))
                costs.add(row[6])
                assert re.fullmatch(r"\d*", row[4])
    assert set(items) <= keys
    assert all(sequence == list(range(1, len(sequence) + 1)) and len(sequence) <= 6 for sequence in items.values())
    assert len(items) < len(keys)  # some certificates have none
    assert "£500 - £1,500" in costs and all(c.startswith("£") or c == "" for c in costs)


def test_command_line(tmp_path, capsys):
    assert main([str(tmp_path / "cli"), "--mb", "0.3", "--seed", "2", "--authorities", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "2 folders" in out and "certificates" in out
    assert sorted(p.name for p in (tmp_path / "cli").iterdir()) == [
        "domestic-E06000001-Hartlepool", "domestic-_unknown_local_authority--Unknown-Local-Authority-"]
    with pytest.raises(SystemExit):
        main([str(tmp_path / "bad"), "--authorities", "0"])
