"""The one retry policy: its delays (overridable), and an outage that outlasts them all ends the retrying."""

from __future__ import annotations

import pytest

from data_processor import retry
from data_processor.errors import ConfigError


@pytest.mark.parametrize(("text", "expected"), [
    ("", retry.RETRY_DELAYS),
    ("0", (0.0,)),
    ("5, 30,120", (5.0, 30.0, 120.0)),
])
def test_retry_delays_come_from_the_policy_or_the_environment(monkeypatch, text, expected):
    monkeypatch.setenv(retry.DELAYS_ENV, text)
    assert retry.retry_delays() == expected


@pytest.mark.parametrize("text", ["soon", "1,,2", "-1"])
def test_a_wrong_override_is_one_line(monkeypatch, text):
    monkeypatch.setenv(retry.DELAYS_ENV, text)
    with pytest.raises(ConfigError, match=retry.DELAYS_ENV):
        retry.retry_delays()


def test_the_database_is_down_once_failures_outlast_every_delay_and_up_after_a_success(monkeypatch):
    monkeypatch.setenv(retry.DELAYS_ENV, "0")
    outage = retry.Outage()
    assert not outage.is_down()
    outage.failed()
    assert outage.is_down()
    outage.succeeded()
    assert not outage.is_down()
    monkeypatch.setenv(retry.DELAYS_ENV, "3600")
    outage.failed()
    assert not outage.is_down()


def test_the_flows_retry_on_the_engine_policy():
    from flows.tasks import RETRY_DELAYS, load_file_task

    assert tuple(RETRY_DELAYS) == retry.retry_delays()
    assert load_file_task.retries == len(retry.retry_delays())
