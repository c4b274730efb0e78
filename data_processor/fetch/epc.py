"""The bulk-file API of "Get energy performance of buildings data" (the EPC register since 2025).

``GET {api}/api/files/{dataset}/info`` → ``{"data": {"fileSize": <bytes>, "lastUpdated": "<ISO time>"}}``: what
the current release is. ``GET {api}/api/files/{dataset}`` → ``302`` to a presigned object-storage URL of the zip,
valid for a limited time. Both need ``Authorization: Bearer <token>``. The redirect is never followed with that
header: the token goes to the API only, and the presigned URL carries its own signature.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpx

from ..errors import ConfigError, FileNotOnService, ServiceError
from .transfer import Reporter, RetryPolicy, Target, request

DEFAULT_API_URL = "https://api.get-energy-performance-data.communities.gov.uk"
DEFAULT_DATASET = "domestic/csv"
TOKEN_ENV = "EPC_API_TOKEN"
_TOKEN = re.compile(r"[\x21-\x7e]+")
"""What a bearer token is made of: visible ASCII (RFC 6750 allows less; nothing more can go in a header)."""

_DATASET = re.compile(r"[a-z0-9-]+(/[a-z0-9-]+)*")


@dataclass(frozen=True)
class Release:
    """One published file, as ``/info`` describes it; two releases are the same when both fields match."""

    last_updated: str
    file_size: int

    def as_dict(self) -> dict[str, Any]:
        return {"lastUpdated": self.last_updated, "fileSize": self.file_size}


def file_name(dataset: str) -> str:
    """``domestic/csv`` → ``domestic-csv.zip``: the name the release is kept under at the destination."""
    return dataset.replace("/", "-") + ".zip"


class EpcApi:
    """A client of the bulk-file API for one dataset; the token stays in a header and is never shown."""

    def __init__(self, client: httpx.Client, api_url: str, token: str, dataset: str, policy: RetryPolicy,
                 report: Reporter, sleep: Callable[[float], None]) -> None:
        if not token.strip():
            raise ConfigError(f"set {TOKEN_ENV} to your API token (from your GOV.UK One Login account page)")
        if not _TOKEN.fullmatch(token.strip()):  # httpx would print the header whole, and retry it as a network error
            raise ConfigError(f"{TOKEN_ENV} contains characters a token cannot have (a line break, a space, or a "
                              "character outside ASCII such as a curly quote): copy it again from your account page")
        if not _DATASET.fullmatch(dataset):
            raise ConfigError(f"--dataset {dataset!r} is not a dataset path like 'domestic/csv'")
        if not api_url.startswith(("https://", "http://")):
            raise ConfigError(f"--api-url {api_url!r} is not an http(s) URL")
        self.client, self.policy, self.report, self.sleep = client, policy, report, sleep
        self.dataset = dataset
        self.file_url = f"{api_url.rstrip('/')}/api/files/{dataset}"
        self._auth = {"Authorization": f"Bearer {token.strip()}", "Accept": "application/json"}

    def _get(self, url: str, what: str, read: bool = True) -> httpx.Response:
        target = Target(url, self._auth, follow_redirects=False)
        return request(self.client, target, what=what, whose=f"the token in {TOKEN_ENV}", policy=self.policy,
                       report=self.report, sleep=self.sleep, read=read)

    def info(self) -> Release:
        """The current release: its size and when it was last regenerated."""
        try:
            response = self._get(self.file_url + "/info", f"asking the service about {self.dataset}")
        except FileNotOnService:
            raise FileNotOnService(f"the service has no file {self.dataset} (HTTP 404 from "
                                   f"/api/files/{self.dataset}/info): check --dataset") from None
        try:
            data = response.json()["data"]
            return Release(last_updated=str(data["lastUpdated"]), file_size=int(data["fileSize"]))
        except (ValueError, KeyError, TypeError):
            raise ServiceError(f"the service's answer about {self.dataset} is not the documented "
                               '{"data": {"fileSize": ..., "lastUpdated": ...}}') from None

    def locate(self) -> Target:
        """A fresh presigned URL of the release (no token on it), or the API itself if it serves the file."""
        response = self._get(self.file_url, f"asking the service for {self.dataset}", read=False)
        location = response.headers.get("location")
        if response.is_redirect and location:
            return Target(urljoin(self.file_url, location), {}, follow_redirects=True)
        if response.status_code == 200:
            return Target(self.file_url, self._auth, follow_redirects=False)
        raise ServiceError(f"asking the service for {self.dataset}: unexpected HTTP {response.status_code}")
