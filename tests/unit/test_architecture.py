"""Dependencies point one way (DESIGN.md §5): ``core`` imports no framework and none of the other parts.

Each check imports a package and every module under it in a fresh interpreter, then looks at
``sys.modules``: what an import drags in is what a packaged program or a companion worker pays for at
start-up. Only modules that exist are checked, so the test grows with the tree. A core module that
fails to import fails the test; in the other parts (written concurrently) a module that does not
import is left to that part's own tests, and what it imported before failing is still checked.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Run in the child interpreter. Migrations are skipped: Alembic's env.py only runs inside Alembic.
PROBE = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys, traceback

    modules, failed = [], {}

    def walk(name):
        try:
            module = importlib.import_module(name)
        except Exception:
            failed[name] = traceback.format_exc(limit=-2)
            return
        modules.append(name)
        for info in pkgutil.iter_modules(getattr(module, "__path__", [])):
            if info.name not in ("migrations", "__main__"):
                walk(name + "." + info.name)

    walk(sys.argv[1])
    print(json.dumps({"modules": modules, "failed": failed, "loaded": sorted(sys.modules)}))
    """
)

FRAMEWORKS = ("PySide6", "shiboken6", "fastapi", "starlette", "sqlalchemy", "httpx", "uvicorn", "stripe")


def probe(
    package: str, extra_path: Path | None = None, *, must_import: bool = True
) -> dict[str, list[str] | dict[str, str]]:
    """Import ``package`` and all its modules in a fresh interpreter; what got loaded.

    With ``must_import=False`` a module that fails to import is passed over (what it imported before
    failing still shows in ``loaded``): a half-written module of another part is that part's tests'
    business, not a dependency-direction fault.
    """
    env_path = [str(extra_path)] if extra_path else []
    code = f"import sys; sys.path[:0] = {env_path!r}; exec({PROBE!r})"
    done = subprocess.run(
        [sys.executable, "-c", code, package], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, list[str] | dict[str, str]] = json.loads(done.stdout.strip().splitlines()[-1])
    if must_import:
        assert not result["failed"], f"{package} does not import:\n{result['failed']}"
    assert result["modules"] or result["failed"]
    return result


def loaded_of(result: dict[str, list[str] | dict[str, str]], names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` (top-level packages, or dotted posdesk packages) were imported."""
    loaded = result["loaded"]
    assert isinstance(loaded, list)
    return sorted(n for n in names if any(m == n or m.startswith(n + ".") for m in loaded))


def existing_packages(*names: str) -> list[str]:
    return [n for n in names if (ROOT / n.replace(".", "/") / "__init__.py").exists()]


def test_core_imports_no_framework_and_no_other_part() -> None:
    result = probe("posdesk.core")
    modules = result["modules"]
    on_disk = {f"posdesk.core.{p.stem}" for p in (ROOT / "posdesk" / "core").glob("*.py") if p.stem != "__init__"}
    assert on_disk <= set(modules), "every module of posdesk.core was imported"
    assert loaded_of(result, FRAMEWORKS) == []
    others = ("posdesk.store", "posdesk.sync", "posdesk.gui", "posdesk.companion", "posdesk.gateways",
              "posdesk.messaging")
    assert loaded_of(result, others) == []
    # Beyond the standard library, the core needs only babel (locale data for money).
    loaded = result["loaded"]
    assert isinstance(loaded, list)
    third_party = {m.split(".")[0] for m in loaded} - set(sys.stdlib_module_names) - {"__main__", "posdesk"}
    # Loaded by the interpreter's site hooks before any of our code runs (editable installs, setuptools).
    third_party = {m for m in third_party if not m.startswith(("__editable__", "_distutils_hack"))}
    assert third_party <= {"babel"}, third_party


@pytest.mark.parametrize("package", existing_packages("posdesk.store", "posdesk.sync", "posdesk.pos"))
def test_the_pos_side_imports_no_web_framework_and_no_companion(package: str) -> None:
    result = probe(package, must_import=False)
    assert loaded_of(result, ("fastapi", "starlette", "uvicorn")) == []
    assert loaded_of(result, ("posdesk.companion", "posdesk.gateways", "posdesk.messaging", "posdesk.gui")) == []


@pytest.mark.parametrize("package", existing_packages("posdesk.companion", "posdesk.gateways", "posdesk.messaging"))
def test_the_companion_side_imports_no_qt_and_no_pos(package: str) -> None:
    result = probe(package, must_import=False)
    assert loaded_of(result, ("PySide6", "shiboken6")) == []
    assert loaded_of(result, ("posdesk.gui", "posdesk.store", "posdesk.sync")) == []


def test_the_pos_layer_imports_no_qt() -> None:
    """The ticket editor, tenders, refunds and the day summary are tested without a QApplication."""
    assert loaded_of(probe("posdesk.pos"), ("PySide6", "shiboken6", "posdesk.gui")) == []


GUI_LIMIT = 450  # lines per module of posdesk/gui: big screens are composed of panels
# What the screens leave to posdesk.pos (data access) and posdesk.sync.client (the companion), and to
# gui/operations (work off the UI thread): SQL sessions and queries, HTTP, threads of their own.
GUI_FORBIDDEN = (
    (re.compile(r"^\s*(import|from)\s+(httpx|threading|sqlalchemy)\b", re.M), "imports httpx, threading or SQLAlchemy"),
    (re.compile(r"\.(session|reading)\(\)"), "opens a database session"),
    (re.compile(r"\bselect\(|\.query\(|\.execute\("), "runs a query"),
    (re.compile(r"\bbackend\.db\b"), "reaches into the backend's database"),
)


def gui_rule_breaches(root: Path) -> list[str]:
    breaches = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(root.parent.parent).as_posix()
        if (lines := text.count("\n")) > GUI_LIMIT:
            breaches.append(f"{where}: {lines} lines (at most {GUI_LIMIT})")
        for pattern, what in GUI_FORBIDDEN:
            if pattern.search(text):
                breaches.append(f"{where} {what}")
    return breaches


def test_the_gui_is_small_modules_without_sql_http_or_threads() -> None:
    assert gui_rule_breaches(ROOT / "posdesk" / "gui") == []


def test_the_gui_rules_catch_a_breach(tmp_path: Path) -> None:
    gui = tmp_path / "posdesk" / "gui"
    gui.mkdir(parents=True)
    (gui / "fat.py").write_text("x = 1\n" * (GUI_LIMIT + 1))
    (gui / "net.py").write_text("import httpx\n")
    (gui / "thread.py").write_text("from threading import Thread\n")
    (gui / "sql.py").write_text("with ctx.backend.db.reading() as session:\n    session.execute(select(Row))\n")
    breaches = gui_rule_breaches(gui)
    assert len(breaches) == 6, breaches


def write_package(root: Path, name: str, files: dict[str, str]) -> None:
    """A package ``name`` under ``root``: its ``__init__.py`` and ``files`` (path inside it: source)."""
    for inside, source in {"__init__.py": "", **files}.items():
        path = root / name / inside
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)


def test_the_probe_sees_a_forbidden_import_in_a_submodule(tmp_path: Path) -> None:
    """The checks above can fail: a framework imported three levels down is found."""
    write_package(tmp_path, "leaky", {
        "inner/__init__.py": "",
        "inner/client.py": "import httpx\n",
        "migrations/__init__.py": "raise RuntimeError('only inside Alembic')\n",
    })  # fmt: skip
    result = probe("leaky", extra_path=tmp_path)
    assert "leaky.inner.client" in result["modules"]
    assert loaded_of(result, FRAMEWORKS) == ["httpx"]


def test_a_module_that_fails_after_a_forbidden_import_is_still_caught(tmp_path: Path) -> None:
    write_package(tmp_path, "halfway", {"api.py": "import httpx\nfrom halfway import not_written_yet\n"})
    result = probe("halfway", extra_path=tmp_path, must_import=False)
    assert "halfway.api" in result["failed"]
    assert loaded_of(result, FRAMEWORKS) == ["httpx"]


def test_the_probe_reports_a_module_that_does_not_import(tmp_path: Path) -> None:
    write_package(tmp_path, "broken", {"half_written.py": "from broken import nothing_here\n"})
    with pytest.raises(AssertionError, match="does not import"):
        probe("broken", extra_path=tmp_path)


# -- the companion is gateway-neutral ---------------------------------------------------------------------
GATEWAY_PACKAGES = ("posdesk.gateways.stripe", "posdesk.gateways.cloud9")


def gateway_names() -> set[str]:
    from posdesk.gateways import DRIVERS

    return set(DRIVERS)


def gateway_specific_code(source: str, names: set[str]) -> list[str]:
    """Where ``source`` imports a gateway's own package or compares something with a gateway's name."""
    import ast

    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if isinstance(node, ast.ImportFrom) and node.module == "posdesk.gateways":
                modules += [f"posdesk.gateways.{a.name}" for a in node.names]
            found += [f"line {node.lineno}: imports {m}" for m in modules if m.startswith(GATEWAY_PACKAGES)]
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            constants = [c for o in operands for c in ([o] if isinstance(o, ast.Constant) else getattr(o, "elts", []))]
            named = [c.value for c in constants if isinstance(c, ast.Constant) and c.value in names]
            found += [f"line {node.lineno}: compares with the gateway name {n!r}" for n in named]
    return found


def test_the_companion_never_imports_a_gateways_own_package_nor_asks_its_name() -> None:
    """Gateway-specific needs are capabilities declared in posdesk.gateways.base (issue 12)."""
    names = gateway_names()
    offences = {
        str(path.relative_to(ROOT)): found
        for path in sorted((ROOT / "posdesk" / "companion").rglob("*.py"))
        if "migrations" not in path.parts and (found := gateway_specific_code(path.read_text(), names))
    }
    assert offences == {}
    result = probe("posdesk.companion", must_import=False)
    assert loaded_of(result, GATEWAY_PACKAGES) == []


def test_the_gateway_neutrality_check_can_fail() -> None:
    names = {"stripe", "cloud9", "simulator"}
    leaky = (
        "from posdesk.gateways.stripe import StripeGateway\n"
        "from posdesk.gateways import cloud9\n"
        "if store.gateway_kind == 'stripe': pass\n"
        "ok = kind in ('simulator', 'x')\n"
        "fine = kind == other\n"
    )
    found = gateway_specific_code(leaky, names)
    assert [f.split(":")[0] for f in found] == ["line 1", "line 2", "line 3", "line 4"]
