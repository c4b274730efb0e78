"""One settings source: the CLI, the flows, the deployments and the chart agree with ``data_processor.settings``."""

from __future__ import annotations

import ast
import inspect
import io
import logging
import re
import subprocess
import sys

import click
import pytest
import yaml

from conftest import REPO, cli, write
from data_processor.errors import ConfigError
from data_processor.settings import Destination, Settings, available_cpus, env_name, option_name
from flows.options import FlowOptions

ROOT = REPO
PASSWORD = "s3cret-Pa55"
URL = f"postgresql://loader:{PASSWORD}@db.example.internal:5432/epc"

ENVIRONMENT = {
    "src": "SRC_DATA_FOLDER", "glob": "SRC_FILE_NAME", "dest": "DEST_SQL", "table": "DEST_TABLE",
    "workers": "DATA_PROCESSOR_WORKERS", "schema_file": "DATA_PROCESSOR_SCHEMA_FILE",
    "max_bad_rows": "DATA_PROCESSOR_MAX_BAD_ROWS", "null_values": "DATA_PROCESSOR_NULL_VALUES",
    "lock_timeout": "DATA_PROCESSOR_LOCK_TIMEOUT", "prune": "DATA_PROCESSOR_PRUNE", "run_id": "DATA_PROCESSOR_RUN_ID",
    "hash_first_load": "DATA_PROCESSOR_HASH_FIRST_LOAD", "null_padding": "DATA_PROCESSOR_NULL_PADDING",
}
"""The original script's four variables keep their names; the others are DATA_PROCESSOR_<NAME>."""

NOT_OPTIONS = {"run_id"}
"""Settings no command line takes: a run's id is made by the run (or by Prefect)."""

FLOW_ONLY = set(FlowOptions.model_fields)
"""``load-csv-folder`` parameters that are about Prefect, not about what to load."""

OTHER_VARIABLES = {"DATA_PROCESSOR_LOG_FORMAT", "DATA_PROCESSOR_RETRY_DELAYS", "DATA_PROCESSOR_PAUSE_AT",
                   "DATA_PROCESSOR_PAUSE_DIR"}
"""The project's variables that are not settings of a load (output format, retry policy, test pause points)."""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ENVIRONMENT.values():
        monkeypatch.delenv(name, raising=False)


# --- environment, defaults, the destination -------------------------------------------------------------------


def test_every_field_reads_its_environment_variable(monkeypatch, tmp_path):
    assert {field: env_name(field) for field in Settings.model_fields} == ENVIRONMENT
    schema = write(tmp_path / "schema.yaml", "columns: {}\n")
    values = {"SRC_DATA_FOLDER": "/data/epc", "SRC_FILE_NAME": "**/certificates.csv", "DEST_SQL": URL,
              "DEST_TABLE": "certificates", "DATA_PROCESSOR_WORKERS": "3", "DATA_PROCESSOR_SCHEMA_FILE": str(schema),
              "DATA_PROCESSOR_MAX_BAD_ROWS": "7", "DATA_PROCESSOR_NULL_VALUES": '["NO DATA!", "N/A"]',
              "DATA_PROCESSOR_LOCK_TIMEOUT": "5", "DATA_PROCESSOR_PRUNE": "true", "DATA_PROCESSOR_RUN_ID": "r1",
              "DATA_PROCESSOR_HASH_FIRST_LOAD": "true"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert (settings.src, settings.glob, settings.dest_url, settings.table) == (
        "/data/epc", "**/certificates.csv", URL, "certificates")
    assert (settings.workers, settings.schema_file, settings.max_bad_rows, settings.null_values,
            settings.lock_timeout, settings.prune, settings.run_id, settings.hash_first_load) == (
        3, str(schema), 7, ("NO DATA!", "N/A"), 5.0, True, "r1", True)


def test_the_projects_other_variables_are_not_settings(monkeypatch):
    for name in OTHER_VARIABLES:
        monkeypatch.setenv(name, "json")
    assert Settings(table="t") == Settings(table="t", workers=0)


def test_a_list_variable_may_hold_one_value_as_it_is(monkeypatch):
    monkeypatch.setenv("DATA_PROCESSOR_NULL_VALUES", "NO DATA!")
    assert Settings(table="t").null_values == ("NO DATA!",)


def test_keywords_beat_the_environment_and_empty_means_not_given(monkeypatch):
    monkeypatch.setenv("DEST_SQL", URL)
    monkeypatch.setenv("DATA_PROCESSOR_WORKERS", "3")
    assert Settings(table="t", dest="sqlite:///x.db", workers=1).dest_url == "sqlite:///x.db"
    assert Settings(table="t", workers=1).workers == 1
    for empty in (None, ""):
        assert Settings(table="t", dest=empty).dest_url == URL
        assert Destination(dest=empty).dest_url == URL
    monkeypatch.delenv("DEST_SQL")
    assert Destination(dest=None).dest_url == "sqlite:///data_processor.db"


def test_one_default_per_setting_each_documented():
    defaults = {name: info.get_default() for name, info in Settings.model_fields.items() if not info.is_required()}
    assert defaults.pop("dest").get_secret_value() == "sqlite:///data_processor.db"
    assert defaults == {"src": ".", "glob": "**/*.csv", "workers": 0, "schema_file": None, "max_bad_rows": 1000,
                        "null_values": (), "lock_timeout": 600.0, "prune": False, "run_id": "",
                        "hash_first_load": False, "null_padding": False}
    assert [name for name, info in Settings.model_fields.items() if info.is_required()] == ["table"]
    for name, info in Settings.model_fields.items():
        assert info.description and len(info.description) > 30, name


def test_workers_zero_means_the_cpus_this_process_may_use(monkeypatch, tmp_path):
    import data_processor.settings as settings_module

    cpus = available_cpus()
    assert Settings(table="t").worker_count == cpus >= 1
    assert Settings(table="t", workers=5).worker_count == 5
    limit = write(tmp_path / "cpu.max", "50000 100000\n")  # half a CPU: a container's limit rounds up to one
    monkeypatch.setattr(settings_module, "CGROUP_CPU_MAX", limit)
    assert available_cpus() == 1
    write(limit, "max 100000\n")
    assert available_cpus() == cpus


# --- the password ---------------------------------------------------------------------------------------------


def test_the_password_is_never_in_repr_str_json_or_logs():
    settings = Settings(table="t", dest=URL)
    stream = io.StringIO()
    logger = logging.getLogger("test_settings")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    try:
        logger.warning("settings %s / %r / dest %s", settings, settings, settings.dest)
    finally:
        logger.removeHandler(handler)
    shown = [repr(settings), str(settings), f"{settings}", str(settings.dest), settings.model_dump_json(),
             repr(settings.model_dump()), stream.getvalue()]
    for text in shown:
        assert PASSWORD not in text, text
    assert "postgresql://loader:***@db.example.internal:5432/epc" in repr(settings)  # still says which database
    assert settings.dest_url == URL


def test_a_password_in_the_environment_is_never_printed(src):
    write(src / "a.csv", "id\n1\n")
    result = cli("plan", "--src", str(src), "--glob", "*.csv", "--table", "t",
                 env={"DEST_SQL": f"postgresql://loader:{PASSWORD}@127.0.0.1:1/epc"})
    assert result.returncode == 2
    assert PASSWORD not in result.stdout + result.stderr
    assert "loader:***@127.0.0.1:1" in result.stderr


# --- validation: one line, naming the option and its variable -------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "a table name is required: --table NAME (or DEST_TABLE)"),
        ({"table": "  "}, "a table name is required: --table NAME (or DEST_TABLE)"),
        ({"table": "t", "max_bad_rows": -1}, "--max-bad-rows must be 0 or more"),
        ({"table": "t", "workers": -2}, "--workers must be 0 or more"),
        ({"table": "t", "lock_timeout": -1}, "--lock-timeout must be 0 or more"),
        ({"table": "t", "workers": "many"}, "--workers (or DATA_PROCESSOR_WORKERS): input should be a valid integer"),
        ({"table": "t", "null_values": "[1]"}, "--null-values (or DATA_PROCESSOR_NULL_VALUES): not a JSON list"),
        ({"table": "t", "tables": "t"}, "unknown setting 'tables'"),
    ],
)
def test_invalid_settings_are_one_line(values, message):
    with pytest.raises(ConfigError) as caught:
        Settings(**values)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATA_PROCESSOR_MAX_BAD_ROWS": "-1"}, "DATA_PROCESSOR_MAX_BAD_ROWS"),
        ({"DATA_PROCESSOR_NULL_VALUES": '["a", 2]'}, "not a JSON list of strings"),
        ({"DEST_TABLE": ""}, "a table name is required"),
    ],
)
def test_a_bad_environment_variable_is_one_line_and_exit_two(src, tmp_path, env, message):
    write(src / "a.csv", "id\n1\n")
    result = cli("load", "--src", str(src), "--dest", f"sqlite:///{tmp_path}/o.db", env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if message in line]  # after click's usage line, if any
    assert len(errors) == 1 and errors[0] == result.stderr.strip().splitlines()[-1], result.stderr


# --- the CLI, the flows, the deployments and the chart agree with Settings ------------------------------------


def _options(command: click.Command) -> dict[str, click.Option]:
    return {p.name: p for p in command.params if isinstance(p, click.Option)}


@pytest.mark.parametrize("name", ["load", "plan", "flow"])
def test_cli_options_are_the_settings(name):
    from data_processor.cli import main

    command = main.get_command(click.Context(main), name)
    options = _options(command)
    expected = set(Settings.model_fields) - NOT_OPTIONS - ({"lock_timeout"} if name == "plan" else set())
    assert expected <= set(options)
    for field in expected:
        info, option = Settings.model_fields[field], options[field]
        default = None if info.is_required() else info.get_default()
        default = getattr(default, "get_secret_value", lambda d=default: d)()
        assert option.opts == [option_name(field)], field
        assert option.envvar == env_name(field) and option.show_envvar, field
        assert option.help.startswith(info.description), field
        if option.multiple:
            assert default == (), field
        elif option.is_flag:
            assert default is False, field
        else:
            assert option.default == default, field


def test_help_shows_every_variable_and_default():
    text = " ".join(cli("load", "--help").stdout.split())
    for field in set(Settings.model_fields) - NOT_OPTIONS:
        assert env_name(field) in text, field
    assert "default: sqlite:///data_processor.db" in text and "default: 600" in text


def _flow_parameters(flow) -> dict[str, inspect.Parameter]:
    return dict(inspect.signature(flow.fn).parameters)


def test_load_csv_folder_parameters_are_the_settings():
    from flows.load_folder import load_csv_folder

    parameters = _flow_parameters(load_csv_folder)
    assert set(parameters) == set(Settings.model_fields) - NOT_OPTIONS | FLOW_ONLY
    for field in set(Settings.model_fields) - NOT_OPTIONS:
        info, default = Settings.model_fields[field], parameters[field].default
        if info.is_required():
            assert default is inspect.Parameter.empty, field
        elif field == "dest":
            assert default is None  # so the URL comes from DEST_SQL, and no password is stored with the run
        elif field == "null_values":
            assert default is None  # a list parameter: None for ()
        else:
            assert default == info.get_default(), field
    assert re.search(r"workers: .*0 = one per CPU", load_csv_folder.fn.__doc__)


def test_the_flow_options_are_declared_once():
    """Every field of FlowOptions is a parameter of load-csv-folder with its default and described in its
    docstring, an option of the flow command with its default, and sync-epc takes the ones it has from it too."""
    import click

    from flows.cli import flow_command
    from flows.load_folder import load_csv_folder
    from flows.sync_epc import sync_epc

    parameters, sync = _flow_parameters(load_csv_folder), _flow_parameters(sync_epc)
    options = {o.name: o for o in flow_command.params if isinstance(o, click.Option)}
    for name, info in FlowOptions.model_fields.items():
        assert parameters[name].default == info.default, name
        assert f"{name}: " in load_csv_folder.fn.__doc__, name
        assert options[name].default == info.default and options[name].help == info.description, name
        if name in sync:
            assert sync[name].default == info.default, name


def test_the_child_flow_and_the_epc_sync_use_the_same_defaults():
    from flows.load_file import load_csv_file
    from flows.sync_epc import sync_epc

    assert _flow_parameters(load_csv_file)["dest"].default is None
    sync = _flow_parameters(sync_epc)
    for field in ("workers", "max_bad_rows"):
        assert sync[field].default == Settings.model_fields[field].get_default(), field
    # Its documented exceptions: the EPC release writes "NO DATA!" for empty, and drops a year it no longer has.
    assert sync["null_values"].default is None and "default ``[\"NO DATA!\"]``" in sync_epc.fn.__doc__
    assert sync["prune"].default is True


def _deployments() -> list[dict]:
    return yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]


def test_prefect_yaml_parameters_are_flow_parameters_that_validate():
    from flows.load_file import load_csv_file
    from flows.load_folder import load_csv_folder
    from flows.sync_epc import sync_epc

    flows = {"flows/load_folder.py:load_csv_folder": load_csv_folder, "flows/load_file.py:load_csv_file":
             load_csv_file, "flows/sync_epc.py:sync_epc": sync_epc}
    for deployment in _deployments():
        parameters = deployment.get("parameters", {})
        assert set(parameters) <= set(_flow_parameters(flows[deployment["entrypoint"]])), deployment["name"]
        assert "dest" not in parameters, deployment["name"]  # Prefect would store the password with every run
        given = {k: v for k, v in parameters.items() if k in Settings.model_fields}
        if deployment["entrypoint"].endswith("load_csv_folder"):
            Settings(**given)  # raises, one line, if a value is not one Settings takes
        for variables in [deployment.get("work_pool", {}).get("job_variables", {})]:
            for name in variables.get("env", {}):
                assert name in ENVIRONMENT.values() or name in OTHER_VARIABLES or not name.startswith(
                    ("DATA_PROCESSOR_", "DEST_", "SRC_")), (deployment["name"], name)


def test_chart_manifests_and_deployments_name_only_real_variables():
    """Any DATA_PROCESSOR_*, DEST_* or SRC_* name in the chart, the manifests or prefect.yaml is one the code reads."""
    files = [ROOT / "prefect.yaml", *(ROOT / "helm").rglob("*"), *(ROOT / "k8s").rglob("*")]
    seen = set()
    for path in (p for p in files if p.is_file()):
        seen |= set(re.findall(r"\b(?:DATA_PROCESSOR_[A-Z_]+|DEST_[A-Z_]+|SRC_[A-Z_]+)\b", path.read_text()))
    assert seen, "the database Secret's DEST_SQL, at least"
    assert seen <= set(ENVIRONMENT.values()) | OTHER_VARIABLES, seen - set(ENVIRONMENT.values())


def test_the_database_secret_holds_the_variable_dest_reads():
    secret = next(d for d in yaml.safe_load_all((ROOT / "k8s" / "secret.example.yaml").read_text())
                  if d and d["metadata"]["name"] == "data-processor-db")
    assert set(secret["stringData"]) == {env_name("dest")}
    values = (ROOT / "helm" / "data-processor" / "values.yaml").read_text()
    assert f"it must hold {env_name('dest')}" in values


def test_other_variables_are_the_ones_the_code_reads():
    from data_processor import output, retry, testing

    assert {output.FORMAT_ENV, retry.DELAYS_ENV, testing.PAUSE_AT, testing.PAUSE_DIR} == OTHER_VARIABLES


# --- the engine and the Prefect shell: no circle, no private names ---------------------------------------------


def _imports(package: str) -> list[tuple[str, str, list[str]]]:
    found = []
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.append((str(path.relative_to(ROOT)), node.module, [a.name for a in node.names]))
            elif isinstance(node, ast.Import):
                found += [(str(path.relative_to(ROOT)), a.name, []) for a in node.names]
    return found


def test_the_engine_never_imports_the_flows():
    assert [i for i in _imports("data_processor") if i[1].split(".")[0] in ("flows", "prefect")] == []


def test_the_flows_import_only_public_names_of_the_engine():
    private = [(path, module, name) for path, module, names in _imports("flows") if module.startswith("data_processor")
               for name in names if name.startswith("_")]
    assert private == []


def test_the_flow_commands_come_from_entry_points():
    from importlib.metadata import entry_points

    found = {e.name: e.value for e in entry_points(group="data_processor.commands")}
    assert found == {"flow": "flows.cli:flow_command", "setup-alerts": "flows.cli:setup_alerts_command"}


def test_a_broken_plugin_breaks_only_itself(src, tmp_path):
    plugins = tmp_path / "plugins"
    info = plugins / "broken_plugin-0.1.dist-info"
    write(info / "METADATA", "Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    write(info / "entry_points.txt", "[data_processor.commands]\nboom = broken_plugin_module:command\n")
    write(plugins / "broken_plugin_module.py", "raise RuntimeError('this plugin is broken')\n")
    env = {"PYTHONPATH": str(plugins)}
    write(src / "a.csv", "id\n1\n")
    loaded = cli("load", "--src", str(src), "--glob", "*.csv", "--dest", f"sqlite:///{tmp_path}/o.db", "--table", "t",
                 env=env)
    assert loaded.returncode == 0, loaded.stderr
    listed = cli("--help", env=env)
    assert listed.returncode == 0 and re.search(r"boom +unavailable: broken_plugin_module:command", listed.stdout)
    ran = cli("boom", "--table", "t", env=env)
    assert ran.returncode == 2 and "Traceback" not in ran.stderr
    assert ran.stderr.strip() == ("error: command 'boom' is unavailable: broken_plugin_module:command failed to "
                                  "load: RuntimeError: this plugin is broken")


def test_without_prefect_the_flow_commands_say_what_is_missing(src, tmp_path):
    hide_prefect = (
        "import sys\n"
        "sys.modules['prefect'] = None  # as if not installed: importing it fails, find_spec finds nothing\n"
        "from data_processor.cli import run\n"
        "sys.argv[0] = 'data-processor'\n"
        "run()\n"
    )
    write(src / "a.csv", "id\n1\n")

    def command(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", hide_prefect, *args], capture_output=True, text=True, timeout=120)

    assert command("load", "--src", str(src), "--dest", f"sqlite:///{tmp_path}/o.db", "--table", "t").returncode == 0
    assert "flow" in command("--help").stdout
    ran = command("flow", "--src", str(src), "--table", "t")
    assert ran.returncode == 2 and "Traceback" not in ran.stderr
    assert "the Prefect commands need Prefect: pip install 'data-processor[flows]'" in ran.stderr


def test_load_workers_import_neither_pydantic_nor_prefect():
    """A load worker imports the engine only; pydantic would cost each ~0.3 s and ~9 MB (docs/BENCHMARKS.md)."""
    script = ("import sys, data_processor, data_processor.jobs, data_processor.fanout\n"
              "print(sorted(m for m in ('pydantic', 'prefect', 'alembic') if m in sys.modules))\n"
              "import data_processor.settings\n"
              "print('prefect' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split("\n")[:2] == ["[]", "False"]
