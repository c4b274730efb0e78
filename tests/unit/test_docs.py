"""The documents stay true to the code: every command in the README, the Layout naming every module that exists
and none that does not, every link to a file of the repository resolving."""

from __future__ import annotations

import re

import pytest

from conftest import REPO

ROOT = REPO
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_every_command_has_help_and_is_in_the_readme():
    import click

    from data_processor.cli import main

    readme = (ROOT / "README.md").read_text()
    context = click.Context(main)
    commands = {name: main.get_command(context, name) for name in main.list_commands(context)}
    assert set(commands) == {"load", "plan", "status", "flow", "setup-alerts", "fetch"}
    for name, command in commands.items():
        assert command.help and len(command.help) > 40, name
        assert f"data-processor {name}" in readme, name
        for option in command.params:
            assert not isinstance(option, click.Option) or option.help, (name, option.name)


def _layout() -> dict[str, str]:
    """The README's Layout block, as the text of each top-level entry (``data_processor/``, ``flows/`` …)."""
    block = re.search(r"## Layout\n\n```\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    entries: dict[str, str] = {}
    name = ""
    for line in block.splitlines():
        if line and not line.startswith(" "):
            name, line = line.split(maxsplit=1)
        entries[name] = entries.get(name, "") + " " + line.strip()
    return entries


def _named(text: str) -> set[str]:
    """The modules an entry names: the first word of each item of its lists (prose in parentheses left out)."""
    text = re.sub(r"\([^)]*\)", "", text)
    text = re.sub(r"^[^:]*:|\bshared:", ",", text)
    return {item.split()[0] for item in re.split(r"[,;]", text) if item.split()}


@pytest.mark.parametrize("package", ["data_processor", "flows"])
def test_the_layout_names_every_module_and_only_modules_that_exist(package):
    named = _named(_layout()[f"{package}/"])
    present = {p.stem for p in (ROOT / package).glob("*.py") if not p.stem.startswith("__")}
    present |= {p.name + "/" for p in (ROOT / package).iterdir() if (p / "__init__.py").exists()}
    assert named == present, f"in the Layout only: {named - present}; in {package}/ only: {present - named}"


def test_the_layout_names_folders_that_exist():
    for entry in _layout():
        assert (ROOT / entry).exists(), entry


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_link_to_a_file_of_the_repository_resolves(doc):
    for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text()):
        if re.match(r"https?:|mailto:|#", target):
            continue
        assert (doc.parent / target.split("#")[0]).exists(), f"{doc.name}: {target}"
