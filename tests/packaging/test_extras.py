"""The extras: ``posdesk[companion]`` carries what the companion imports and no Qt (the container image
installs it), ``posdesk[pos]`` what the POS imports, and ``.[dev]`` everything the tests need."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
COMPANION_SIDE = ["companion", "gateways", "messaging", "core", "logs.py", "paths.py", "sql_types.py"]
OPTIONAL = {"sentry-sdk"}  # imported only when configured, from its own extra
POS_SIDE = [*COMPANION_SIDE, "gui", "store", "sync", "pos", "selftest.py", "crash.py"]


def requirements(extras: list[str]) -> list[Requirement]:
    """posdesk's own requirements for ``extras``, its extras' references to itself expanded."""
    found = [Requirement(line) for line in PROJECT["dependencies"]]
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for line in PROJECT["optional-dependencies"][extra]:
            requirement = Requirement(line)
            if canonicalize_name(requirement.name) == "posdesk":
                todo += sorted(requirement.extras)
            else:
                found.append(requirement)
    return found


def closure(extras: list[str]) -> set[str]:
    """Every distribution installing posdesk with ``extras`` brings in (as installed here)."""
    wanted = {canonicalize_name(r.name): r.extras for r in requirements(extras)}
    todo = list(wanted.items())
    names: set[str] = set()
    while todo:
        name, asked = todo.pop()
        if name in names:
            continue
        names.add(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            environment = {"extra": ""}
            marker_ok = requirement.marker is None or any(
                requirement.marker.evaluate({**environment, "extra": extra}) for extra in [*asked, ""]
            )
            if marker_ok:
                todo.append((canonicalize_name(requirement.name), requirement.extras))
    return names


def imported_distributions(parts: list[str]) -> set[str]:
    """The distributions whose modules the given parts of posdesk import (stdlib and posdesk left out)."""
    modules: set[str] = set()
    for part in parts:
        path = ROOT / "posdesk" / part
        for file in [path] if path.is_file() else path.rglob("*.py"):
            if "migrations" in file.parts:
                continue
            for node in ast.walk(ast.parse(file.read_text("utf-8"))):
                if isinstance(node, ast.Import):
                    modules |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
    # _typeshed: the type checker's own stubs, imported under TYPE_CHECKING only (no distribution has it)
    modules -= set(sys.stdlib_module_names) | {"posdesk", "__future__", "_typeshed"}
    owners = metadata.packages_distributions()
    return {canonicalize_name(owners[module][0]) for module in modules}


def test_the_companion_extra_carries_what_the_companion_imports_and_no_qt() -> None:
    carried = closure(["companion"])
    assert imported_distributions(COMPANION_SIDE) - carried == OPTIONAL
    assert closure(["companion", "sentry"]) >= OPTIONAL
    assert not {name for name in carried if name.startswith(("pyside6", "shiboken6"))}
    assert "keyring" not in carried and "segno" not in carried


def test_the_pos_extra_carries_what_the_pos_and_its_demo_companion_import() -> None:
    assert imported_distributions(POS_SIDE) - closure(["pos"]) <= OPTIONAL
    assert "pyside6-essentials" in closure(["pos"])


def test_dev_installs_both_programs() -> None:
    assert closure(["pos", "companion"]) <= closure(["dev"])
    assert {"pytest", "pyinstaller"} <= closure(["dev"])


def test_the_container_installs_the_companion_extra() -> None:
    text = (ROOT / "packaging" / "companion" / "Containerfile").read_text("utf-8")
    assert 'pip wheel --wheel-dir /wheels ".[companion,sentry]"' in text
    assert '"posdesk[companion,sentry]"' in text
    assert not {name for name in closure(["companion", "sentry"]) if name.startswith("pyside6")}
