"""Every record that crosses a process boundary comes back equal from its JSON (``records``): as a flow parameter
(data) and as a database row (text)."""

from __future__ import annotations

from pathlib import Path

import pytest

from data_processor import records
from data_processor.infer import ColumnStats
from data_processor.jobs import ScanJob, scan_job_from_json, scan_job_to_json
from data_processor.ledger import Entry
from data_processor.planning import FileScan
from data_processor.types import ColumnPlan, CsvDialect, Failure, FilePlan, LoadPlan, LoadResult, Reject, SourceFile

SOURCE = SourceFile(Path("/data/a/certificates.csv"), "a/certificates.csv", 1234, etag='"abc"')
FILE = FilePlan(SOURCE, CsvDialect("cp1252", ";", "gzip", 16 << 20), "f" * 64, ("LMK_KEY", "UPRN"),
                ("lmk_key", "uprn"), "changed", rows=7, clean=True, valid_utf8=True)
PLAN = LoadPlan("certificates", (ColumnPlan("lmk_key", "LMK_KEY", "text"),
                                 ColumnPlan("uprn", "UPRN", "decimal", 12, 2)), (FILE,), ("NO DATA!",), 5,
                frozenset({"uprn"}), hash_first_load=True, null_padding=True)
RECORDS = [
    PLAN,
    ScanJob("certificates", SOURCE, ("NO DATA!",), Entry(3, "loaded", 1000, "e" * 64, 6, '"abc"', "v1"), ("lmk_key",),
            1600, True),
    FileScan(FILE, 7, 1, {"uprn": ColumnStats(values=7, integer=False, int_digits=12, scale=2)}, 2),
    LoadResult("a/certificates.csv", "failed", 9, 7, 2, 1234, 0.5,
               Failure("a/certificates.csv", "bad", 3, "InputError"),
               (Reject(3, "x;y", "bad"),), (ColumnPlan("uprn", "UPRN", "text"),), "diff", 1, 2, 6),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_a_record_comes_back_equal_as_data_and_as_text(record):
    assert records.from_data(type(record), records.to_data(record)) == record
    assert records.from_text(type(record), records.to_text(record)) == record


def test_the_plan_and_the_scan_job_through_their_own_names():
    assert LoadPlan.from_json(PLAN.to_json()) == PLAN
    job = RECORDS[1]
    assert scan_job_from_json(scan_job_to_json(job)) == job
