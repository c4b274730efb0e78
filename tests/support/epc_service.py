"""A local server that behaves like the EPC service (``FakeEpc``), for the fetch tests and the monthly flow's.

Two real HTTP servers on loopback: the API (bearer token, ``/info``, ``302`` to a presigned-style URL) and the object
storage the URL points at (``Range``, a transfer cut mid-way, a URL that then answers ``403`` as if expired, ``429``
with ``Retry-After``). Nothing in httpx is mocked: the code under test talks HTTP to them.
"""

from __future__ import annotations

import io
import json
import re
import socket
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

TOKEN = "tok-Very-Secret-123"
RELEASE = "2025-01-01T12:00:00.000+00:00"
FAST = ["--max-wait", "0.01", "--timeout", "10"]


def make_zip(rows: int = 4000, year: int = 2024) -> bytes:
    """A real zip in the new layout: per-year CSV members, lower-case headers, certificate_number."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        lines = ["certificate_number,current_energy_rating,total_floor_area"]
        lines += [f"{i:04d}-{year}-0000-0000-{i:04d},{'ABCDEFG'[i % 7]},{50 + i % 90}.5" for i in range(rows)]
        archive.writestr(f"certificates-{year}.csv", "\n".join(lines) + "\n")
        archive.writestr(f"recommendations-{year}.csv", "certificate_number,improvement_item\n0001,1\n")
    return buffer.getvalue()


@dataclass
class Seen:
    server: str
    path: str
    query: dict
    headers: dict


@dataclass
class FakeEpc:
    """The EPC bulk-file API and its object storage, with the faults users meet, switched on per test.

    A presigned URL carries ``X-Amz-Expires`` and a signature numbered by issue; a URL whose transfer was cut
    (``cut_at``) is marked expired and answers ``403`` from then on (``expire_after_cut``), as a URL that expired
    during a long download does. Every request is recorded in ``seen``.
    """

    payload: bytes
    last_updated: str = RELEASE
    info_size: int | None = None
    cut_at: int | None = None
    expire_after_cut: bool = False
    throttle: int = 0
    ignore_range: bool = False
    cut_always: bool = False
    legacy_user: tuple[str, str] = ("me@example.org", "legacy-Key-456")
    seen: list[Seen] = field(default_factory=list)
    issued: int = 0
    expired: set = field(default_factory=set)

    def start(self) -> None:
        self.api = _serve(self, "api")
        self.store = _serve(self, "store")

    def stop(self) -> None:
        for server in (self.api, self.store):
            server.shutdown()
            server.server_close()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api.server_port}"

    def on(self, server: str, path_prefix: str = "") -> list[Seen]:
        return [s for s in self.seen if s.server == server and s.path.startswith(path_prefix)]


def _serve(fake: FakeEpc, role: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            fake.seen.append(Seen(role, parts.path, parse_qs(parts.query), dict(self.headers)))
            if role == "api":
                self.api(parts.path)
            else:
                self.object(parts.path, parse_qs(parts.query))

        def reply(self, status: int, body: bytes = b"", **headers: str) -> None:
            self.send_response(status)
            for name, value in {"Content-Length": str(len(body)), **headers}.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(body)

        def api(self, path: str) -> None:
            if path.startswith("/api/v1/files/"):  # the legacy service: HTTP Basic, then its own storage
                import base64

                expected = "Basic " + base64.b64encode(":".join(fake.legacy_user).encode()).decode()
                if self.headers.get("Authorization") != expected:
                    return self.reply(401, b"Unauthorized", WWW_Authenticate='Basic realm="epc"')
                return self.reply(302, Location=f"http://127.0.0.1:{fake.store.server_port}/legacy/"
                                  + path.rpartition("/")[2])
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self.reply(401, b'{"error": "Unauthorized"}', Content_Type="application/json")
            if path == "/api/files/domestic/csv/info":
                size = fake.payload and (fake.info_size or len(fake.payload))
                body = json.dumps({"data": {"fileSize": size, "lastUpdated": fake.last_updated}}).encode()
                return self.reply(200, body, Content_Type="application/json")
            if path == "/api/files/domestic/csv":
                fake.issued += 1
                location = (f"http://127.0.0.1:{fake.store.server_port}/full-load/domestic-csv.zip"
                            f"?X-Amz-Expires=3600&X-Amz-Signature=sig{fake.issued}")
                return self.reply(302, Location=location)
            self.reply(404, b'{"data": {"error": "File not found"}}', Content_Type="application/json")

        def object(self, path: str, query: dict) -> None:
            signature = query.get("X-Amz-Signature", [""])[0]
            if signature in fake.expired:
                return self.reply(403, b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message>"
                                  b"</Error>", Content_Type="application/xml")
            if fake.throttle > 0:
                fake.throttle -= 1
                return self.reply(429, b"slow down", Retry_After="1")
            etag = '"v-' + fake.last_updated + '"'
            if path.startswith("/legacy/") and self.headers.get("If-None-Match") == etag:
                return self.reply(304, ETag=etag)
            data, start = fake.payload, 0
            wanted = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
            if wanted and not fake.ignore_range:
                start = int(wanted.group(1))
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", "Wed, 01 Jan 2025 12:00:00 GMT")
            self.end_headers()
            if fake.cut_at is not None and len(body) > fake.cut_at:
                self.wfile.write(body[:fake.cut_at])
                self.wfile.flush()
                if not fake.cut_always:
                    fake.cut_at = None  # only the first transfer is cut
                if fake.expire_after_cut:
                    fake.expired.add(signature)
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:  # the client may have gone first (ENOTCONN): cut either way
                    pass
                self.close_connection = True
                return
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
