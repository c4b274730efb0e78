"""The Dockerfile, without a Docker engine: parsed with dockerfile-parse and held to the invariants its comments state,
and its install commands run for real (offline, from uv's cache) in a fresh virtualenv, from a copy of the build
context the Dockerfile and .dockerignore define."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dockerfile_parse import DockerfileParser

from conftest import REPO

UV = REPO / ".venv" / "bin" / "uv"
VENV_IN_IMAGE = "/opt/venv"
TEST_ONLY = {"pytest", "pytest-timeout", "helm-python-sdk", "kubernetes-validate", "dockerfile-parse"}
"""Packages of requirements.lock that must stay out of the image."""


# --- parsing ----------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dockerfile() -> DockerfileParser:
    return DockerfileParser(path=str(REPO / "Dockerfile"))


def stages(dockerfile: DockerfileParser) -> dict[str, list[dict]]:
    """Instructions of each stage, by stage name (FROM ... AS <name>)."""
    result: dict[str, list[dict]] = {}
    current: list[dict] | None = None
    for instruction in dockerfile.structure:
        if instruction["instruction"] == "FROM":
            name = instruction["value"].split()[-1] if " AS " in instruction["value"].upper() else str(len(result))
            current = result.setdefault(name, [])
        elif current is not None and instruction["instruction"] != "COMMENT":
            current.append(instruction)
    return result


def values(stage: list[dict], instruction: str) -> list[str]:
    return [i["value"] for i in stage if i["instruction"] == instruction]


def locked_versions() -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", (REPO / "requirements.lock").read_text(), re.M)
    return {name.lower().replace("_", "-"): version for name, version in pins}


def pull_directory() -> str:
    prefect = yaml.safe_load((REPO / "prefect.yaml").read_text())
    (step,) = [s["prefect.deployments.steps.set_working_directory"] for s in prefect["pull"]]
    return step["directory"]


# --- the image --------------------------------------------------------------------------------------------------------

def test_is_multi_stage_on_the_pinned_prefect_image(dockerfile):
    assert list(stages(dockerfile)) == ["build", "runtime"]
    make_python = re.search(r"--python-version (\d+\.\d+)", (REPO / "Makefile").read_text()).group(1)
    expected = f"prefecthq/prefect:{locked_versions()['prefect']}-python{make_python}"
    assert dockerfile.parent_images == [expected, expected]


def test_workdir_is_prefect_yaml_pull_directory(dockerfile):
    assert values(stages(dockerfile)["runtime"], "WORKDIR")[-1] == pull_directory()


def test_runs_as_the_numeric_user_the_pods_expect(dockerfile):
    user = values(stages(dockerfile)["runtime"], "USER")[-1]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and gid.isdigit() and int(uid) > 0 and int(gid) > 0
    template = json.loads((REPO / "k8s" / "base-job-template.json").read_text())
    pod_sc = template["job_configuration"]["job_manifest"]["spec"]["template"]["spec"]["securityContext"]
    chart = yaml.safe_load((REPO / "helm" / "data-processor" / "values.yaml").read_text())
    assert int(uid) == pod_sc["runAsUser"] == chart["worker"]["podSecurityContext"]["runAsUser"]
    assert int(gid) == pod_sc["runAsGroup"] == chart["worker"]["podSecurityContext"]["runAsGroup"]


def test_environment(dockerfile):
    env = dockerfile.envs  # the final stage's
    workdir = pull_directory()
    assert env["PREFECT_LOGGING_CONFIG_PATH"] == f"{workdir}/logging.yml"
    assert env["HOME"] == "/tmp" and env["PREFECT_HOME"].startswith("/tmp/")  # the only writable path in the pods
    assert env["VIRTUAL_ENV"] == VENV_IN_IMAGE and env["PATH"].startswith(f"{VENV_IN_IMAGE}/bin:")


def test_runtime_holds_the_project_and_no_build_tools(dockerfile):
    runtime = stages(dockerfile)["runtime"]
    copies = [shlex.split(v) for v in values(runtime, "COPY")]
    assert ["--from=build", VENV_IN_IMAGE, VENV_IN_IMAGE] in copies
    copied = {Path(src).name for args in copies if not args[0].startswith("--from") for src in args[:-1]}
    assert copied == {"prefect.yaml", "logging.yml", "data_processor", "flows"}
    runs = " ".join(values(runtime, "RUN"))
    assert "apt-get install" not in runs and "pip install" not in runs
    assert "apt-get purge -y --auto-remove build-essential" in runs


def dockerignore_excludes(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps `path` out of the build context: the last matching pattern wins, `!` re-includes,
    a pattern matching a folder covers what is inside. Enough for the simple patterns of our .dockerignore."""
    excluded = False
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        globs = [pattern, pattern[3:]] if pattern.startswith("**/") else [pattern]
        if any(fnmatch.fnmatchcase(p, g) or fnmatch.fnmatchcase(p.split("/")[-1], g) and g.startswith("*")
               for p in prefixes for g in globs):
            excluded = not negate
    return excluded


@pytest.fixture(scope="module")
def dockerignore() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def copy_sources(dockerfile: DockerfileParser) -> set[str]:
    sources = set()
    for stage in stages(dockerfile).values():
        for value in values(stage, "COPY"):
            args = shlex.split(value)
            if not args[0].startswith("--from"):
                sources |= {src.rstrip("/") for src in args[:-1]}
    return sources


def test_build_context_has_what_the_dockerfile_copies(dockerfile, dockerignore):
    for source in copy_sources(dockerfile):
        assert (REPO / source).exists(), f"COPY {source}: missing from the repository"
        assert not dockerignore_excludes(source, dockerignore), f"COPY {source}: excluded by .dockerignore"
        if (REPO / source).is_dir():
            assert not dockerignore_excludes(f"{source}/__init__.py", dockerignore)


@pytest.mark.parametrize("path", [".venv/bin/python", ".git/HEAD", ".sample/epc/a.csv", "data_processor.db",
                                  "tests/engine/test_cli.py", "helm/data-processor/values.yaml", "k8s/pvc.yaml",
                                  "data_processor/__pycache__/cli.cpython-311.pyc", "README.md",
                                  "samples/__init__.py"])
def test_dockerignore_keeps_out(dockerignore, path):
    assert dockerignore_excludes(path, dockerignore)


# --- the install commands, for real -----------------------------------------------------------------------------------

def install_commands(dockerfile: DockerfileParser) -> list[list[str]]:
    """The `uv pip install` commands of the build stage, as argument lists (RUN flags such as --mount dropped)."""
    commands = []
    for run in values(stages(dockerfile)["build"], "RUN"):
        for command in re.split(r"\s*&&\s*", re.sub(r"^(--\S+\s+)+", "", run)):
            args = shlex.split(command)
            if args[:3] == ["uv", "pip", "install"]:
                commands.append(args)
    return commands


@pytest.fixture(scope="module")
def built_venv(dockerfile, dockerignore, tmp_path_factory) -> Path:
    """A fresh virtualenv holding what the build stage installs, built from a copy of the build context.
    The Dockerfile's own uv commands run, with the venv path swapped for a temporary one and --offline (uv's cache
    from `make venv` holds every wheel): about 5 s. A missing wheel fails here, as it would in `docker build`."""
    if not UV.exists():
        pytest.fail(f"{UV} is missing: run `make venv`")
    context = tmp_path_factory.mktemp("context")
    for source in copy_sources(dockerfile):
        if (REPO / source).is_dir():
            shutil.copytree(REPO / source, context / source, ignore=lambda folder, names: [
                name for name in names
                if dockerignore_excludes(str((Path(folder) / name).relative_to(REPO)), dockerignore)])
        else:
            shutil.copy2(REPO / source, context / source)
    venv = context / "venv"
    subprocess.run([str(UV), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    env = {**os.environ, "UV_OFFLINE": "1", "UV_COMPILE_BYTECODE": "0", "UV_NO_PROGRESS": "1"}
    commands = install_commands(dockerfile)
    assert len(commands) == 2, commands  # dependencies from the lock, then the project
    for args in commands:
        args = [str(UV)] + [str(venv / "bin" / "python") if a == f"{VENV_IN_IMAGE}/bin/python" else a
                            for a in args[1:]]
        result = subprocess.run(args, cwd=context, env=env, capture_output=True, text=True)
        assert result.returncode == 0, f"{shlex.join(args)}\n{result.stderr}"
    return venv


def installed(venv: Path) -> dict[str, str]:
    listing = subprocess.run([str(UV), "pip", "list", "--python", str(venv / "bin" / "python"), "--format", "json"],
                             check=True, capture_output=True, text=True).stdout
    return {p["name"].lower().replace("_", "-"): p["version"] for p in json.loads(listing)}


@pytest.mark.timeout(180)
def test_install_commands_build_a_working_environment(built_venv):
    check = ("import data_processor, flows.load_folder, flows.load_file, prefect, prefect_kubernetes, psycopg2, "
             "pymysql, pythonjsonlogger; print(prefect.__version__)")
    result = subprocess.run([str(built_venv / "bin" / "python"), "-c", check], capture_output=True, text=True,
                            cwd="/", env={**os.environ, "PREFECT_HOME": str(built_venv.parent / "prefect-home")})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == locked_versions()["prefect"]


@pytest.mark.timeout(180)
def test_every_installed_package_is_pinned_by_the_lock(built_venv):
    pins = locked_versions()
    packages = installed(built_venv)
    assert packages.pop("data-processor") == "0.1.0"
    assert {name: version for name, version in packages.items() if pins.get(name) != version} == {}
    assert TEST_ONLY & set(packages) == set()
