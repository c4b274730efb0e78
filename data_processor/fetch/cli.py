"""``data-processor fetch epc|url``: download the EPC release (or any http(s) file) into a folder or object store.

Secrets come from the environment only (``EPC_API_TOKEN``, ``FETCH_PASSWORD``), never from an option: options end
up in shell history, process lists and job specs. Errors are one line with the exit code of ``errors.py``.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import click

PASSWORD_ENV = "FETCH_PASSWORD"


def transfer_options(function: Callable) -> Callable:
    """Options every fetch shares: where to, the scratch folder, and how hard to retry."""
    options = [
        click.option("--to", "to", envvar="FETCH_TO", show_envvar=True, required=True, metavar="DEST",
                     help="Folder or object-store URL (s3://bucket/epc/) to put the file in. Object-store "
                     "credentials and endpoint come from the standard places (AWS_* variables, profile, pod "
                     "identity; AWS_ENDPOINT_URL for an S3-compatible server)."),
        click.option("--force", is_flag=True, help="Download even when the destination already holds this file."),
        click.option("--scratch", envvar="FETCH_SCRATCH", show_envvar=True, type=click.Path(file_okay=False),
                     help="For an object-store --to: the local folder the file is downloaded to before upload "
                     "(needs room for the whole file; a part left there is resumed). Default: the system's "
                     "temporary folder."),
        click.option("--retries", type=click.IntRange(min=1), default=8, show_default=True,
                     help="Attempts in a row that bring no new byte before giving up (an attempt that brings "
                     "bytes starts the count again)."),
        click.option("--max-wait", type=click.FloatRange(min=0), default=60, show_default=True,
                     help="Longest wait in seconds between attempts (caps the exponential backoff and "
                     "Retry-After)."),
        click.option("--timeout", type=click.FloatRange(min=0.1), default=60, show_default=True,
                     help="Seconds without a byte before a connection counts as lost (then it is resumed)."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _policy(retries: int, max_wait: float, timeout: float):
    from .transfer import RetryPolicy

    return RetryPolicy(attempts=retries, max_wait=max_wait, timeout=timeout)


@click.group("fetch")
def fetch_group() -> None:
    """Download the EPC release, or any http(s) file, into a folder or object store, resumably.

    \b
    Monthly, unattended:
      EPC_API_TOKEN=... data-processor fetch epc --to s3://bucket/epc/
      data-processor fetch url https://example.org/file.zip --to /data/downloads

    The file goes to a temporary name first, resumes after a cut connection, and is put in place only once its
    size and (for a zip) its central directory check out; a manifest beside it records what was fetched, so the
    next run skips an unchanged release. Exit status: 0 downloaded or already there, 1 the file arrived broken,
    2 configuration, credentials or the service unreachable after every retry.
    """


@fetch_group.command("epc")
@transfer_options
@click.option("--api-url", envvar="EPC_API_URL", show_envvar=True,
              default="https://api.get-energy-performance-data.communities.gov.uk", show_default=True,
              help="Base URL of the 'Get energy performance of buildings data' API.")
@click.option("--dataset", default="domestic/csv", show_default=True,
              help="Which bulk file: domestic/csv (kept as domestic-csv.zip), domestic/json, ...")
def epc_command(to: str, force: bool, scratch: str | None, retries: int, max_wait: float, timeout: float,
                api_url: str, dataset: str) -> None:
    """Download the current EPC bulk release (token in EPC_API_TOKEN), unless DEST already holds it.

    Asks the API which release is current (/info: lastUpdated, fileSize); when the manifest beside the zip at
    DEST names the same release and the zip is there, it does nothing. Otherwise it follows the API's redirect to
    a presigned URL (the token is never sent there), asks for a fresh URL when one expires mid-download, and
    writes DEST/domestic-csv.zip and DEST/domestic-csv.json. The token comes from your GOV.UK One Login account
    page; it is never printed.
    """
    from .download import fetch_epc
    from .epc import TOKEN_ENV
    from .report import CliReport

    with CliReport() as report:
        result = fetch_epc(to, os.environ.get(TOKEN_ENV, ""), api_url=api_url, dataset=dataset, force=force,
                           scratch=scratch, policy=_policy(retries, max_wait, timeout), report=report)
        report.finished(result)


@fetch_group.command("url")
@click.argument("url")
@transfer_options
@click.option("--name", help="File name at DEST (default: the last part of the URL's path).")
@click.option("--user", envvar="FETCH_USER", show_envvar=True, metavar="NAME",
              help=f"HTTP Basic user name; the password comes from {PASSWORD_ENV}. For the legacy "
              "opendatacommunities EPC service: your e-mail, with your API key in FETCH_PASSWORD.")
def url_command(url: str, to: str, force: bool, scratch: str | None, retries: int, max_wait: float,
                timeout: float, name: str | None, user: str | None) -> None:
    """Download one http(s) file into DEST, resumably; skipped when the server says it has not changed.

    \b
    Legacy EPC service (HTTP Basic, e-mail and API key):
      FETCH_PASSWORD=<api key> data-processor fetch url --user you@example.org \\
          https://epc.opendatacommunities.org/api/v1/files/all-domestic-certificates.zip --to /data/epc

    A manifest beside the file (x.zip → x.json, x.csv → x.csv.json) keeps its ETag and Last-Modified, so the
    next run asks the server only whether it changed.
    """
    from .download import fetch_url
    from .report import CliReport
    from ..errors import ConfigError

    auth = None
    if user:
        if ":" in user:
            raise ConfigError(f"--user takes the user name only; put the password in {PASSWORD_ENV}")
        password = os.environ.get(PASSWORD_ENV)
        if not password:
            raise ConfigError(f"--user needs the password in the environment variable {PASSWORD_ENV}")
        auth = (user, password)
    with CliReport() as report:
        result = fetch_url(url, to, name=name, auth=auth, force=force, scratch=scratch,
                           policy=_policy(retries, max_wait, timeout), report=report)
        report.finished(result)
