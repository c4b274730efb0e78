"""The package's shape: no name it exports hides one of its modules (``import data_processor.load as m`` once gave
the stage function ``load``, not the module), and no two modules are named for the same job."""

from __future__ import annotations

import importlib
import types

import pytest

from conftest import REPO

PACKAGES = ["data_processor", "flows"]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_exported_name_hides_a_module(package):
    top = importlib.import_module(package)
    for path in sorted((REPO / package).glob("*.py")):
        if path.stem.startswith("__"):
            continue
        module = importlib.import_module(f"{package}.{path.stem}")
        exported = getattr(top, path.stem)  # importing the module set it, unless a name of the package hides it
        assert isinstance(exported, types.ModuleType) and exported is module, f"{package}.{path.stem} is hidden"
