"""``data-processor fetch``: against a local server that behaves like the EPC service, and a local S3 (moto).

``FakeEpc`` is two real HTTP servers on loopback: the API (bearer token, ``/info``, ``302`` to a presigned-style URL)
and the object storage the URL points at (``Range``, a transfer cut mid-way, a URL that then answers ``403`` as if
expired, ``429`` with ``Retry-After``). Nothing in httpx is mocked: the code under test talks HTTP to them.
"""

from __future__ import annotations

import json
import time

import pytest

from conftest import cli
from data_processor.errors import ServiceError
from data_processor.fetch.transfer import PartFile, RetryPolicy, Silent, Target, download, new_client
from support.epc_service import FAST, RELEASE, TOKEN, FakeEpc, make_zip


@pytest.fixture
def epc():
    fake = FakeEpc(make_zip())
    fake.start()
    yield fake
    fake.stop()


def fetch_epc(fake: FakeEpc, to, *args, token: str = TOKEN, env: dict | None = None, log_format: str = "text"):
    return cli("--log-format", log_format, "fetch", "epc", "--to", str(to), "--api-url", fake.api_url, *FAST,
               *args, env={"EPC_API_TOKEN": token, **(env or {})})


def test_downloads_resumes_after_a_cut_and_skips_an_unchanged_release(epc, tmp_path):
    epc.cut_at = 30_000
    dest = tmp_path / "epc"
    result = fetch_epc(epc, dest)
    assert result.returncode == 0, result.stderr
    assert (dest / "domestic-csv.zip").read_bytes() == epc.payload
    manifest = json.loads((dest / "domestic-csv.json").read_text())
    assert manifest["lastUpdated"] == RELEASE and manifest["fileSize"] == len(epc.payload)
    ranges = [s.headers.get("Range") for s in epc.on("store")]
    assert ranges == [None, "bytes=30000-"]
    assert all("Authorization" not in s.headers for s in epc.on("store")), "the token went to object storage"
    assert f"downloaded domestic-csv.zip: release {RELEASE}, {len(epc.payload):,} bytes" in result.stdout
    assert "connection lost at byte 30,000" in result.stderr
    assert sorted(p.name for p in dest.iterdir()) == ["domestic-csv.json", "domestic-csv.zip"]

    epc.seen.clear()
    again = fetch_epc(epc, dest)
    assert again.returncode == 0, again.stderr
    assert [s.path for s in epc.seen] == ["/api/files/domestic/csv/info"]
    assert again.stdout.startswith("skipped domestic-csv.zip")


def test_a_new_release_downloads_again_and_a_missing_zip_too(epc, tmp_path):
    assert fetch_epc(epc, tmp_path).returncode == 0
    epc.payload, epc.last_updated = make_zip(year=2025), "2025-02-01T12:00:00.000+00:00"
    result = fetch_epc(epc, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "downloaded" in result.stdout and "2025-02-01" in result.stdout
    assert (tmp_path / "domestic-csv.zip").read_bytes() == epc.payload
    (tmp_path / "domestic-csv.zip").unlink()
    assert "downloaded" in fetch_epc(epc, tmp_path).stdout


def test_an_expired_presigned_url_is_replaced_by_a_fresh_one(epc, tmp_path):
    epc.cut_at, epc.expire_after_cut = 25_000, True
    result = fetch_epc(epc, tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "domestic-csv.zip").read_bytes() == epc.payload
    assert len(epc.on("api", "/api/files/domestic/csv")) == 3  # /info, the first URL, the fresh one
    store = [(s.query["X-Amz-Signature"][0], s.headers.get("Range")) for s in epc.on("store")]
    assert store == [("sig1", None), ("sig1", "bytes=25000-"), ("sig2", "bytes=25000-")]
    assert "HTTP 403" in result.stderr and "fresh one" in result.stderr


def test_rate_limits_are_retried_and_a_server_that_ignores_range_restarts(epc, tmp_path):
    epc.throttle, epc.cut_at, epc.ignore_range = 2, 10_000, True
    result = fetch_epc(epc, tmp_path, log_format="json")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "domestic-csv.zip").read_bytes() == epc.payload
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    actions = [line["event.action"] for line in lines]
    assert actions.count("fetch.retry") == 3  # two 429s, one cut
    assert "fetch.restart" in actions and "fetch.progress" in actions
    done = json.loads(result.stdout)
    assert done["event.action"] == "fetch.done" and done["bytes"] == len(epc.payload)
    assert done["release_last_updated"] == RELEASE and done["destination"].endswith("domestic-csv.zip")
    assert done["file.name"] == "domestic-csv.zip"
    assert {line["log.logger"] for line in [*lines, done]} == {"data_processor.cli"}  # no field overwrote it


def test_retry_after_is_honoured_up_to_the_cap(epc, tmp_path):
    epc.throttle = 1
    waits: list[float] = []
    part = PartFile(tmp_path / "x.part", {"test": 1})
    with new_client(RetryPolicy()) as client:
        target = Target(f"http://127.0.0.1:{epc.store.server_port}/full-load/domestic-csv.zip")
        download(client, lambda: target, part, name="x", policy=RetryPolicy(max_wait=60), report=Silent(),
                 sleep=waits.append)
    assert waits == [1.0] and part.path.read_bytes() == epc.payload
    assert RetryPolicy(max_wait=0.5).wait(1, retry_after=1.0) == 0.5
    assert RetryPolicy(max_wait=60).wait(9) <= 60


def test_attempts_are_bounded(epc, tmp_path):
    epc.throttle = 100
    part = PartFile(tmp_path / "x.part", {"test": 1})
    with new_client(RetryPolicy()) as client, pytest.raises(ServiceError, match="gave up after 3 attempts"):
        target = Target(f"http://127.0.0.1:{epc.store.server_port}/full-load/domestic-csv.zip")
        download(client, lambda: target, part, name="x", policy=RetryPolicy(attempts=3), report=Silent(),
                 sleep=lambda _: None)
    assert epc.throttle == 97


def test_a_server_that_never_resumes_over_a_line_that_keeps_dropping_gives_up(epc, tmp_path):
    epc.cut_at, epc.cut_always, epc.ignore_range = 10_000, True, True
    part = PartFile(tmp_path / "x.part", {"test": 1})
    with new_client(RetryPolicy()) as client, pytest.raises(ServiceError, match="did not resume .* 4 times"):
        target = Target(f"http://127.0.0.1:{epc.store.server_port}/full-load/domestic-csv.zip")
        download(client, lambda: target, part, name="x", policy=RetryPolicy(attempts=3), report=Silent(),
                 sleep=lambda _: None)
    assert len(epc.on("store")) == 5


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_wrong_token_is_one_line_exit_two_and_never_printed(epc, tmp_path, log_format):
    wrong = "tok-Wrong-But-Secret-789"
    result = fetch_epc(epc, tmp_path, log_format=log_format, token=wrong)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "refused the token in EPC_API_TOKEN (HTTP 401)" in result.stderr
    assert wrong not in result.stdout + result.stderr and "Traceback" not in result.stderr
    missing = fetch_epc(epc, tmp_path, token="")
    assert missing.returncode == 2 and "set EPC_API_TOKEN" in missing.stderr


@pytest.mark.parametrize("log_format", ["text", "json"])
@pytest.mark.parametrize("token", ["tok-Secret-123\nsecond-line", "tok-Secret-123\rmore", "tok-\u2019Secret-123\u2019",
                                   "tok Secret-123"])
def test_a_token_with_characters_no_token_has_is_one_line_exit_two_never_printed_never_sent(epc, tmp_path, token,
                                                                                             log_format):
    result = fetch_epc(epc, tmp_path, token=token, log_format=log_format)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "EPC_API_TOKEN contains characters a token cannot have" in result.stderr
    assert "Secret-123" not in result.stdout + result.stderr and "Traceback" not in result.stderr
    assert epc.seen == []  # refused before any request: nothing to retry


def test_a_dataset_the_service_does_not_have(epc, tmp_path):
    result = fetch_epc(epc, tmp_path, "--dataset", "non-domestic/csv")
    assert result.returncode == 2
    assert "the service has no file non-domestic/csv (HTTP 404" in result.stderr
    assert not list(tmp_path.iterdir())


def test_a_corrupt_zip_is_refused_and_nothing_is_put_in_place(epc, tmp_path):
    good = epc.payload
    assert fetch_epc(epc, tmp_path).returncode == 0
    epc.payload = good[:-40] + b"\0" * 40  # right size, central directory destroyed
    epc.last_updated = "2025-02-01T12:00:00.000+00:00"
    result = fetch_epc(epc, tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: domestic-csv.zip: not a readable zip archive")
    assert "Traceback" not in result.stderr
    assert (tmp_path / "domestic-csv.zip").read_bytes() == good
    assert json.loads((tmp_path / "domestic-csv.json").read_text())["lastUpdated"] == RELEASE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["domestic-csv.json", "domestic-csv.zip"]


def test_a_file_shorter_than_the_service_says_is_refused(epc, tmp_path):
    epc.info_size = len(epc.payload) + 100  # the storage holds a truncated archive
    result = fetch_epc(epc, tmp_path)
    assert result.returncode == 1
    assert "the service lists the file at" in result.stderr
    assert not (tmp_path / "domestic-csv.zip").exists() and not (tmp_path / "domestic-csv.json").exists()


def test_a_part_left_by_a_killed_run_is_resumed(epc, tmp_path):
    """The part and its sidecar survive a killed process; the next run sends Range from where it stopped."""
    part = PartFile(tmp_path / ".domestic-csv.zip.part",
                    {"release": {"lastUpdated": RELEASE, "fileSize": len(epc.payload)},
                     "source": f"{epc.api_url}/api/files/domestic/csv"})
    part.path.write_bytes(epc.payload[:12_345])
    part.remember('"v-' + RELEASE + '"', len(epc.payload))
    result = fetch_epc(epc, tmp_path)
    assert result.returncode == 0, result.stderr
    assert [s.headers.get("Range") for s in epc.on("store")] == ["bytes=12345-"]
    assert (tmp_path / "domestic-csv.zip").read_bytes() == epc.payload


def test_two_fetches_into_one_destination_do_not_interleave(epc, tmp_path):
    import fcntl

    with open(tmp_path / ".domestic-csv.zip.part.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        result = fetch_epc(epc, tmp_path)
    assert result.returncode == 2
    assert "another fetch is writing" in result.stderr and not epc.on("store")
    assert fetch_epc(epc, tmp_path).returncode == 0


@pytest.fixture(scope="session")
def moto_env():
    """A real S3-compatible server (moto in server mode) on a free port, for the session; yields its environment."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    server.stop()


@pytest.fixture
def s3(moto_env):
    """A filesystem on the moto server with an empty bucket ``epc-bucket``; the CLI gets credentials via ``env``."""
    import s3fs

    fs = s3fs.S3FileSystem(endpoint_url=moto_env["AWS_ENDPOINT_URL"], key="testing", secret="testing",
                           skip_instance_cache=True)
    if fs.exists("epc-bucket"):
        fs.rm("epc-bucket", recursive=True)
    fs.mkdir("epc-bucket")
    return fs, moto_env


def test_fetch_into_an_object_store(epc, s3, tmp_path):
    fs, env = s3
    epc.cut_at = 20_000
    scratch = tmp_path / "scratch"
    result = fetch_epc(epc, "s3://epc-bucket/releases/", "--scratch", str(scratch), env=env)
    assert result.returncode == 0, result.stderr
    assert fs.cat_file("epc-bucket/releases/domestic-csv.zip") == epc.payload
    manifest = json.loads(fs.cat_file("epc-bucket/releases/domestic-csv.json"))
    assert manifest["lastUpdated"] == RELEASE and manifest["fileSize"] == len(epc.payload)
    assert "to s3://epc-bucket/releases/domestic-csv.zip" in result.stdout
    assert list(scratch.iterdir()) == []  # the local copy is gone once uploaded
    epc.seen.clear()
    again = fetch_epc(epc, "s3://epc-bucket/releases", env=env)
    assert again.returncode == 0 and again.stdout.startswith("skipped"), again.stderr
    assert [s.path for s in epc.seen] == ["/api/files/domestic/csv/info"]


def test_a_fetch_from_another_machine_holding_the_store_stops_this_one_at_once(epc, s3, tmp_path):
    """Two pods, two scratch disks, one bucket: the lease object beside the file is what they share."""
    fs, env = s3
    lease = {"holder": "epc-fetch-7f9c (pid 1, 0a1b2c3d)", "since": time.time() - 60, "expires_at": time.time() + 240}
    fs.pipe_file("epc-bucket/releases/domestic-csv.zip.lock", json.dumps(lease).encode())
    result = fetch_epc(epc, "s3://epc-bucket/releases/", "--scratch", str(tmp_path / "scratch"), env=env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: another fetch is writing s3://epc-bucket/releases/domestic-csv.zip: epc-fetch-7f9c (pid 1, 0a1b2c3d) "
        f"since {time.strftime('%H:%M:%S UTC', time.gmtime(lease['since']))} (its lease object "
        "epc-bucket/releases/domestic-csv.zip.lock); try again when it has finished"]
    assert not fs.exists("epc-bucket/releases/domestic-csv.zip")
    assert [s.path for s in epc.seen] == ["/api/files/domestic/csv/info"]  # nothing downloaded


def test_a_lease_its_holder_left_to_expire_is_taken_over_and_released(epc, s3, tmp_path):
    fs, env = s3
    dead = {"holder": "a pod that died", "since": time.time() - 900, "expires_at": time.time() - 600}
    fs.pipe_file("epc-bucket/releases/domestic-csv.zip.lock", json.dumps(dead).encode())
    result = fetch_epc(epc, "s3://epc-bucket/releases/", "--scratch", str(tmp_path / "scratch"), env=env)
    assert result.returncode == 0, result.stderr
    assert fs.cat_file("epc-bucket/releases/domestic-csv.zip") == epc.payload
    fs.invalidate_cache()
    assert not fs.exists("epc-bucket/releases/domestic-csv.zip.lock")


def test_a_fetch_whose_lease_was_taken_over_does_not_publish(s3, tmp_path, monkeypatch):
    from data_processor.errors import FetchError
    from data_processor.fetch import lease as leases
    from data_processor.fetch.destination import ObjectStore

    fs, env = s3
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(leases, "RENEW_SECONDS", 0.05)
    store = ObjectStore("s3://epc-bucket/stalled", "big.bin", tmp_path)
    part = tmp_path / "big.part"
    part.write_bytes(b"x" * 1000)
    with store.held() as lease:
        fs.pipe_file("epc-bucket/stalled/big.bin.lock", b'{"holder": "the fetch that took over"}')
        deadline = time.monotonic() + 30
        while not lease.lost:  # its next renewal finds another ETag
            assert time.monotonic() < deadline, "the lost lease went unnoticed"
            time.sleep(0.05)
        with pytest.raises(FetchError, match="another fetch took over this one's lease"):
            store.publish(part, {"size": 1})
    assert not fs.exists("epc-bucket/stalled/big.bin")
    assert fs.cat_file("epc-bucket/stalled/big.bin.lock") == b'{"holder": "the fetch that took over"}'


def test_a_large_file_goes_up_in_bounded_parts(s3, tmp_path, monkeypatch):
    """s3fs's defaults hold 10 parts of 50 MiB in memory; ours 4 of 8 MiB. Progress moves part by part (a file s3fs
    sent in one request stayed at 0 % until it ended)."""
    from data_processor.fetch.destination import UPLOAD_PART_BYTES, ObjectStore

    fs, env = s3
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    part = tmp_path / "big.part"
    part.write_bytes(b"x" * (20 << 20))  # a sample release: it went up in one request before
    store = ObjectStore("s3://epc-bucket/big", "big.bin", tmp_path)
    seen: list[int] = []
    store.publish(part, {"size": 1}, seen.append)
    info = fs.info("epc-bucket/big/big.bin")
    parts = -(-info["size"] // UPLOAD_PART_BYTES)
    assert info["size"] == 20 << 20 and info["ETag"].endswith(f'-{parts}"') and parts > 1  # a multipart upload
    assert seen[-1] == info["size"] and not part.exists()
    assert any(0 < done < info["size"] for done in seen), seen
    assert json.loads(fs.cat_file("epc-bucket/big/big.bin.json")) == {"size": 1}


def test_an_object_store_that_refuses_is_one_line(epc, s3, tmp_path):
    _, env = s3
    result = fetch_epc(epc, "s3://no-such-bucket/x/", "--scratch", str(tmp_path), env=env)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "s3://no-such-bucket/x: the bucket 'no-such-bucket' does not exist" in result.stderr
    assert not epc.on("store"), "checked before downloading"


def test_fetch_url_with_basic_auth_never_forwards_the_credentials(epc, tmp_path):
    user, key = epc.legacy_user
    url = f"{epc.api_url}/api/v1/files/all-domestic-certificates.zip"
    result = cli("fetch", "url", url, "--to", str(tmp_path), "--user", user, *FAST, env={"FETCH_PASSWORD": key})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "all-domestic-certificates.zip").read_bytes() == epc.payload
    assert epc.on("store") and all("Authorization" not in s.headers for s in epc.on("store"))
    manifest = json.loads((tmp_path / "all-domestic-certificates.json").read_text())
    assert manifest["etag"] == '"v-' + RELEASE + '"' and manifest["source"] == url
    assert key not in result.stdout + result.stderr

    epc.seen.clear()
    again = cli("fetch", "url", url, "--to", str(tmp_path), "--user", user, *FAST, env={"FETCH_PASSWORD": key})
    assert again.returncode == 0 and again.stdout.startswith("skipped all-domestic-certificates.zip"), again.stderr
    assert [s.headers.get("If-None-Match") for s in epc.on("store")] == ['"v-' + RELEASE + '"']


def test_fetch_url_credentials_are_checked_and_never_echoed(epc, tmp_path):
    url = f"{epc.api_url}/api/v1/files/all-domestic-certificates.zip"
    wrong = cli("fetch", "url", url, "--to", str(tmp_path), "--user", "me@example.org", *FAST,
                env={"FETCH_PASSWORD": "not-the-Key-000"})
    assert wrong.returncode == 2 and "refused the credentials (HTTP 401)" in wrong.stderr
    assert "not-the-Key-000" not in wrong.stdout + wrong.stderr
    inline = cli("fetch", "url", url, "--to", str(tmp_path), "--user", "me@example.org:inline-Key-1")
    assert inline.returncode == 2 and "FETCH_PASSWORD" in inline.stderr and "inline-Key-1" not in inline.stderr
    unset = cli("fetch", "url", url, "--to", str(tmp_path), "--user", "me@example.org",
                env={"FETCH_PASSWORD": ""})
    assert unset.returncode == 2 and "FETCH_PASSWORD" in unset.stderr
