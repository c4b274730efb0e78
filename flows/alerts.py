"""Failure alerts as server-side Prefect automations, created or updated idempotently.

Automations fire on the server from flow-run events, so an alert goes out even when a pod is killed before any
``on_failure`` hook could run. ``setup_alerts`` makes the notification block and the automations match the
settings: a second call with the same settings changes nothing; with new settings it updates in place (it never
duplicates, as ``prefect automation create`` would).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from urllib.parse import urlparse

from prefect.automations import Automation, CallWebhook, EventTrigger, Posture, SendNotification
from prefect.blocks.core import Block
from prefect.blocks.notifications import CustomWebhookNotificationBlock, MicrosoftTeamsWebhook, SlackWebhook
from prefect.blocks.webhook import Webhook
from prefect.settings import PREFECT_API_URL

from data_processor.errors import ConfigError
from flows.report import EVENT_COMPLETED

FLOWS = ("load-csv-folder", "load-csv-file")
BLOCK_NAME = "data-processor-alerts"
SUCCESS_BLOCK_NAME = "data-processor-completed"
TERMINAL = {"prefect.flow-run.Completed", "prefect.flow-run.Failed", "prefect.flow-run.Crashed",
            "prefect.flow-run.Cancelled"}

SUBJECT = "Data Processor: {{ flow_run.name }} is {{ flow_run.state.name }}"
BODY = """\
{{ flow.name }} run "{{ flow_run.name }}" is {{ flow_run.state.name }}.
Table: {{ flow_run.parameters.get('table') or flow_run.parameters.get('plan', {}).get('table', '?') }}
Why: {{ flow_run.state.message }}
Run: {{ flow_run|ui_url or flow_run.id }}"""
STUCK_BODY = """\
{{ flow.name }} run "{{ flow_run.name }}" has been {{ flow_run.state.name }} for longer than expected.
Table: {{ flow_run.parameters.get('table') or flow_run.parameters.get('plan', {}).get('table', '?') }}
Run: {{ flow_run|ui_url or flow_run.id }}"""


@dataclass(frozen=True)
class AlertSettings:
    webhook_url: str
    kind: str = "auto"
    """slack, teams, webhook, or auto (chosen from the URL's host)."""
    pending_after: dt.timedelta = dt.timedelta(minutes=30)
    """A run still Pending after this long (no pod scheduled, no worker) alerts."""
    running_after: dt.timedelta = dt.timedelta(hours=12)
    """A run still Running after this long (a hung load) alerts."""
    success_url: str | None = None
    """Optional webhook that receives each completed load's summary (the old design's SNS message)."""

    def __post_init__(self) -> None:
        check_webhook_url(self.webhook_url, "--webhook-url")
        if self.success_url:
            check_webhook_url(self.success_url, "--on-success-url")


LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
"""Hosts a plain http:// webhook may point at: a relay or test server on this machine."""


def check_webhook_url(url: str, option: str) -> None:
    """Refuse a URL no alert could be POSTed to (``ftp://x``, a typo) before anything is saved.

    The message never repeats the URL: a webhook URL is a credential.
    """
    parsed = urlparse(url.strip())
    if parsed.scheme == "https" and parsed.hostname:
        return
    if parsed.scheme == "http" and parsed.hostname in LOOPBACK_HOSTS:
        return
    got = f"{parsed.scheme}://…" if parsed.scheme and parsed.hostname else "no URL"
    raise ConfigError(f"{option} must be an https:// URL (http:// only to localhost), got {got}")


def require_server() -> None:
    """Alerts live on a Prefect server; without PREFECT_API_URL they would go to a temporary one that vanishes."""
    if not PREFECT_API_URL.value():
        raise ConfigError("no Prefect server to keep the alerts: set PREFECT_API_URL "
                          "(e.g. http://127.0.0.1:4200/api) and run setup-alerts again")


def webhook_kind(url: str) -> str:
    host = urlparse(url).hostname or ""
    if host == "hooks.slack.com":
        return "slack"
    if host.endswith(("webhook.office.com", "logic.azure.com")):
        return "teams"
    return "webhook"


def notification_block(url: str, kind: str) -> Block:
    kind = webhook_kind(url) if kind == "auto" else kind
    if kind == "slack":
        return SlackWebhook(url=url)
    if kind == "teams":
        return MicrosoftTeamsWebhook(url=url)
    if kind == "webhook":
        # The URL is kept as a secret (a webhook URL is a credential) and filled into the template when sending.
        # The operator chose it, so a private address (an in-cluster relay, a test server) is allowed.
        return CustomWebhookNotificationBlock(name="data-processor", url="{{webhook_url}}", allow_private_urls=True,
                                              secrets={"webhook_url": url},
                                              json_data={"subject": "{{subject}}", "text": "{{body}}"})
    raise ValueError(f"unknown alert kind {kind!r}: use slack, teams, webhook or auto")


def success_block(url: str) -> Webhook:
    """Where each completed load's summary is POSTed as the JSON body (an object, for a job to read as it is).

    A plain webhook rather than a notification block: notifications template their fields as text, so the summary
    would arrive as a JSON string inside a string. The URL is a secret field of the block.
    """
    return Webhook(url=url, method="POST", headers={"Content-Type": "application/json"})


def _save_block(block: Block, name: str) -> tuple[str, object]:
    """Save unless an identical block is already saved under ``name``; returns (what happened, document id)."""
    try:
        existing = type(block).load(name)
    except ValueError:
        return "created", block.save(name)
    if _block_data(existing) == _block_data(block):
        return "unchanged", existing._block_document_id
    return "updated", block.save(name, overwrite=True)


def _block_data(block: Block) -> dict:
    """The block's fields with secrets revealed, so a changed webhook URL is seen as a change."""
    data = block.model_dump(mode="json", context={"include_secrets": True})
    return {k: v for k, v in data.items() if not k.startswith("_")}  # not the saved document's id and name


def _flow_related() -> dict:
    return {"prefect.resource.role": "flow", "prefect.resource.name": list(FLOWS)}


def desired_automations(block_id: object, settings: AlertSettings, success_block_id: object = None) -> list[Automation]:
    """The automations the settings call for (compared with what the server holds by name)."""
    def notify(body: str, subject: str = SUBJECT) -> list:
        return [SendNotification(block_document_id=block_id, subject=subject, body=body)]

    wanted = [
        Automation(
            name="data-processor: run failed or crashed",
            description="A load-csv-folder or load-csv-file run ended Failed or Crashed.",
            trigger=EventTrigger(
                match={"prefect.resource.id": "prefect.flow-run.*"}, match_related=_flow_related(),
                expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}, posture=Posture.Reactive,
                threshold=1, within=dt.timedelta(0),
            ),
            actions=notify(BODY),
        ),
        _stuck("Pending", {"prefect.flow-run.Running"} | TERMINAL, settings.pending_after, notify(STUCK_BODY)),
        _stuck("Running", TERMINAL, settings.running_after, notify(STUCK_BODY)),
    ]
    if success_block_id is not None:
        wanted.append(Automation(
            name="data-processor: load completed",
            description="Each completed table load, with its summary, for downstream jobs.",
            trigger=EventTrigger(expect={EVENT_COMPLETED}, match={"prefect.resource.id": "data-processor.table.*"},
                                 posture=Posture.Reactive, threshold=1, within=dt.timedelta(0)),
            actions=[CallWebhook(block_document_id=success_block_id, payload="{{ event.payload | tojson }}")],
        ))
    return wanted


def _stuck(state: str, expect: set[str], after: dt.timedelta, actions: list) -> Automation:
    return Automation(
        name=f"data-processor: run stuck in {state}",
        description=f"A run stayed {state} longer than {after}.",
        trigger=EventTrigger(
            match={"prefect.resource.id": "prefect.flow-run.*"}, match_related=_flow_related(),
            after={f"prefect.flow-run.{state}"}, expect=expect, for_each={"prefect.resource.id"},
            posture=Posture.Proactive, threshold=1, within=after,
        ),
        actions=actions,
    )


def _same(a: Automation, b: Automation) -> bool:
    keys = {"description", "enabled", "trigger", "actions", "actions_on_trigger", "actions_on_resolve"}
    return _canonical(a.model_dump(mode="json", include=keys)) == _canonical(b.model_dump(mode="json", include=keys))


def _canonical(value: object) -> object:
    """Sets come back from the server in any order: compare lists as sorted."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((_canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


def setup_alerts(settings: AlertSettings) -> list[str]:
    """Make the block and automations match ``settings``; returns one line per object saying what happened."""
    require_server()
    done = []
    status, block_id = _save_block(notification_block(settings.webhook_url, settings.kind), BLOCK_NAME)
    done.append(f"notification block {BLOCK_NAME}: {status}")
    success_id = None
    if settings.success_url:
        status, success_id = _save_block(success_block(settings.success_url), SUCCESS_BLOCK_NAME)
        done.append(f"notification block {SUCCESS_BLOCK_NAME}: {status}")
    for wanted in desired_automations(block_id, settings, success_id):
        try:
            existing = Automation.read(name=wanted.name)
        except ValueError:
            wanted.create()
            done.append(f"automation {wanted.name!r}: created")
            continue
        if _same(existing, wanted):
            done.append(f"automation {wanted.name!r}: unchanged")
        else:
            wanted.id = existing.id
            wanted.update()
            done.append(f"automation {wanted.name!r}: updated")
    return done
