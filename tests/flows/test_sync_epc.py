"""The unattended monthly flow: fetch the EPC release from a server that behaves like the service, then load its
per-year members from the zip, in place, into PostgreSQL; a second month with the same release loads nothing."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from prefect.client.orchestration import get_client

from support.epc_service import TOKEN, FakeEpc

CERTIFICATES = "certificate_number,postcode,current_energy_efficiency,lodgement_date\n"
RECOMMENDATIONS = "certificate_number,improvement_item,indicative_cost\n"


def release(years: dict[int, int]) -> bytes:
    """A zip in the service's layout: certificates-YYYY.csv and recommendations-YYYY.csv, deflated."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for year, count in years.items():
            numbers = [f"{year:04d}-{i:04d}-8202-6036-8204" for i in range(count)]
            archive.writestr(f"certificates-{year}.csv", CERTIFICATES + "".join(
                f"{n},TS24 8AB,{i % 100},{year}-05-31\n" for i, n in enumerate(numbers)))
            archive.writestr(f"recommendations-{year}.csv", RECOMMENDATIONS + "".join(
                f'{n},1,"£100 - £350"\n{n},2,NO DATA!\n' for n in numbers))
    return buffer.getvalue()


@pytest.fixture
def service():
    fake = FakeEpc(release({2021: 40, 2022: 60}))
    fake.start()
    yield fake
    fake.stop()


def test_a_month_then_the_same_month_again_then_a_new_release(prefect_api, pg, service, tmp_path, monkeypatch):
    from flows.sync_epc import sync_epc

    monkeypatch.setenv("EPC_API_TOKEN", TOKEN)
    monkeypatch.setenv("DEST_SQL", pg.url)
    tables = {"certificates_table": pg.table, "recommendations_table": f"{pg.table}_rec"}
    try:
        state = sync_epc(to=str(tmp_path / "epc"), api_url=service.api_url, workers=2, return_state=True, **tables)
        assert state.is_completed(), state.message
        first = state.result()
        assert first["fetch"] == "downloaded"
        assert first["location"].endswith("domestic-csv.zip")
        assert first["loads"]["certificates"]["rows_loaded"] == 100
        assert first["loads"]["recommendations"]["rows_loaded"] == 200
        assert pg.count() == 100 and pg.count(f"{pg.table}_rec") == 200
        assert pg.scalar(f"SELECT COUNT(*) FROM {pg.q(pg.table + '_rec')} WHERE indicative_cost IS NULL") == 100
        with get_client(sync_client=True) as client:
            (artifact,) = [a for a in client.read_latest_artifacts() if a.key == "epc-release"]
        assert service.last_updated in artifact.data and "| " + pg.table + " | 2 |" in artifact.data

        again = sync_epc(to=str(tmp_path / "epc"), api_url=service.api_url, return_state=True, **tables).result()
        assert again["fetch"] == "skipped"
        assert again["loads"]["certificates"]["files_skipped"] == 2 and pg.count() == 100

        service.payload = release({2022: 70, 2023: 5})  # 2021 gone from the register, 2022 regenerated, 2023 new
        service.last_updated = "2027-01-01T12:00:00.000+00:00"
        month = sync_epc(to=str(tmp_path / "epc"), api_url=service.api_url, return_state=True, **tables).result()
        assert month["fetch"] == "downloaded" and month["release"]["lastUpdated"] == service.last_updated
        assert pg.count() == 75  # 2021's rows pruned, 2022's replaced, 2023's added
        assert json.dumps(month["loads"]["certificates"]["files_loaded"]) == "2"
        # 2022 kept its 60 certificates and gained 10: a row difference; 2023 new; 2021 pruned
        assert month["changes"][pg.table] == {"added": 15, "removed": 40, "unchanged": 60, "files_changed": 3}
        assert month["changes"][f"{pg.table}_rec"] == {"added": 30, "removed": 80, "unchanged": 120,
                                                       "files_changed": 3}
        with get_client(sync_client=True) as client:
            (changes,) = [a for a in client.read_latest_artifacts() if a.key == "epc-release-changes"]
        data = changes.data if isinstance(changes.data, list) else json.loads(changes.data)
        assert {"table": pg.table, "file": "certificates-2022.csv", "applied": "diff", "added": 10, "removed": 0,
                "unchanged": 60} in data
        assert {"table": pg.table, "file": "certificates-2021.csv", "applied": "pruned", "added": 0, "removed": 40,
                "unchanged": 0} in data
    finally:
        with pg.engine.begin() as conn:
            for table in (f"{pg.table}_rec", f"{pg.table}_rec_rejects"):
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {pg.q(table)}")
            conn.exec_driver_sql(f"DELETE FROM data_processor_files WHERE table_name = '{pg.table}_rec'")
            conn.exec_driver_sql(f"DELETE FROM data_processor_columns WHERE table_name = '{pg.table}_rec'")


def test_a_release_without_recommendations_loads_the_certificates_and_says_what_is_missing(
        prefect_api, pg, tmp_path, monkeypatch):
    from flows.sync_epc import sync_epc

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("certificates-2024.csv", CERTIFICATES + "2024-0001-8202-6036-8204,TS24 8AB,50,2024-05-31\n")
    fake = FakeEpc(buffer.getvalue())
    fake.start()
    monkeypatch.setenv("EPC_API_TOKEN", TOKEN)
    monkeypatch.setenv("DEST_SQL", pg.url)
    try:
        state = sync_epc(to=str(tmp_path / "epc"), api_url=fake.api_url, certificates_table=pg.table,
                         recommendations_table=f"{pg.table}_rec", return_state=True)
    finally:
        fake.stop()
    assert state.is_failed()
    assert state.message == (f"EPC release {fake.last_updated}: the release has no recommendations-*.csv file: "
                             f"{pg.table}_rec left as it was")
    assert state.name == "Failed" and pg.count() == 1  # the certificates loaded all the same
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
        (artifact,) = [a for a in client.read_latest_artifacts() if a.key == "epc-release"]
    assert run.name.startswith("EPC 20")
    assert f"- the release has no recommendations-*.csv file: {pg.table}_rec left as it was" in artifact.data


def test_a_refused_token_fails_the_run_at_once_without_retries(prefect_api, service, tmp_path, monkeypatch):
    from flows.sync_epc import sync_epc

    monkeypatch.setenv("EPC_API_TOKEN", "not-the-token")
    state = sync_epc(to=str(tmp_path / "epc"), api_url=service.api_url, return_state=True)
    assert state.is_failed()
    assert "not-the-token" not in (state.message or "")
    assert len([s for s in service.seen if s.path.endswith("/info")]) == 1  # refused once, not retried
