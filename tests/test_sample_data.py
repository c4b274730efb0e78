import csv

from data_processor.sample_data import CERTIFICATE_COLUMNS, generate_epc_dump


def test_layout_header_counts_and_determinism(tmp_path):
    dump = generate_epc_dump(tmp_path / "a", 2, seed=3)
    again = generate_epc_dump(tmp_path / "b", 2, seed=3)
    assert len(CERTIFICATE_COLUMNS) == 92
    certificates = sorted(p for p in dump.files if p.name == "certificates.csv")
    assert len(certificates) == 3 and all(p.parent.name.startswith("domestic-") for p in certificates)
    with open(certificates[0], newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == CERTIFICATE_COLUMNS
    assert sum(1 for p in certificates for _ in open(p, encoding="utf-8")) - 3 == dump.certificate_rows
    assert 1.6e6 < dump.total_bytes < 2.4e6
    assert [p.read_bytes() for p in dump.files] == [p.read_bytes() for p in again.files]
    values = {column: {row[i] for row in rows[1:]} for i, column in enumerate(CERTIFICATE_COLUMNS)}
    assert all(len(v) == 32 for v in values["LMK_KEY"])
    assert all(v == "" or len(v) == 12 for v in values["UPRN"])
    assert "None" in values["SECONDHEAT_DESCRIPTION"] and "N/A" in values["WALLS_ENERGY_EFF"]
    assert "01" in values["FLOOR_LEVEL"] and "" in values["CURRENT_ENERGY_EFFICIENCY"]
