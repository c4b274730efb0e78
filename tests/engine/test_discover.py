import os

import pytest

from conftest import write
from data_processor.discovery import discover_folder as discover
from data_processor.errors import ConfigError


def keys(found):
    return [f.key for f in found.files]


def test_globstar_matches_top_folder_and_below_in_sorted_order(src):
    for key in ("b/certificates.csv", "certificates.csv", "a/x/certificates.csv", "a/recommendations.csv"):
        write(src / key, "h\n1\n")
    assert keys(discover(src, "**/certificates.csv")) == ["a/x/certificates.csv", "b/certificates.csv",
                                                         "certificates.csv"]
    assert keys(discover(src, "*.csv")) == ["certificates.csv"]
    assert keys(discover(src, "**/*.{csv,csv.gz}")) == sorted(keys(discover(src, "**/*.csv")))


def test_symlink_loop_ends_instead_of_hanging(src):
    write(src / "a" / "f.csv", "h\n1\n")
    os.symlink("..", src / "a" / "loop")
    found = discover(src, "**/*.csv")
    assert keys(found) == ["a/f.csv"]
    assert any("already visited" in p.reason for p in found.problems)


def test_same_file_through_a_link_loads_once(src):
    write(src / "real" / "f.csv", "h\n1\n")
    os.symlink(src / "real", src / "alias")
    found = discover(src, "**/*.csv")
    assert keys(found) == ["alias/f.csv"] or keys(found) == ["real/f.csv"]
    assert len(found.files) == 1


def test_dangling_link_fifo_and_matching_folder_are_reported(src):
    write(src / "ok.csv", "h\n1\n")
    os.symlink(src / "missing.csv", src / "dangling.csv")
    os.mkfifo(src / "pipe.csv")
    (src / "folder.csv").mkdir()
    found = discover(src, "*.csv")
    assert keys(found) == ["ok.csv"]
    reasons = {p.key: (p.reason, p.fatal) for p in found.problems}
    assert reasons["dangling.csv"] == ("dangling symbolic link", True)
    assert reasons["pipe.csv"][1] is False and "not a regular file" in reasons["pipe.csv"][0]
    assert "folder" in reasons["folder.csv"][0]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file_is_fatal(src):
    path = write(src / "secret.csv", "h\n1\n")
    path.chmod(0)
    found = discover(src, "*.csv")
    assert found.problems[0].fatal


def test_missing_source_folder(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        discover(tmp_path / "nope", "*.csv")


def test_a_file_name_that_is_not_utf8_loads_under_a_printable_key(pg, tmp_path):
    """A zip made on Windows can leave Latin-1 bytes in names: the key must still be text the ledger can store."""
    src = tmp_path / "odd"
    folder = os.path.join(os.fsencode(src), b"Caf\xe9 folder")
    os.makedirs(folder)
    with open(os.path.join(folder, b"certificates.csv"), "w") as f:
        f.write("id,name\n1,a\n")
    summary = pg.load(src)
    assert summary.exit_code == 0, (summary.failed, summary.problems)
    assert [r.key for r in summary.results] == ["Caf\\xe9 folder/certificates.csv"]
    assert pg.count() == 1 and pg.load(src).count("skipped") == 1
