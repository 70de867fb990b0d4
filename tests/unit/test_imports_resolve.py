"""Every ``from posdesk... import name`` in the POS names something its module has, including the imports
inside functions (a dialog or a Qt class loaded when first needed, not with the first frame): a wrong one
there fails only when a cashier opens that dialog, and ``posdesk.gui.qt`` makes names on first use, so a
name it lacks (a widget helper of ``posdesk.gui.widgets``, say) passes every import at start-up."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "posdesk"


def imports_from_posdesk(path: Path) -> list[tuple[int, str, str]]:
    """(line, module, name) of each ``from posdesk... import name`` in ``path``, wherever it stands."""
    found: list[tuple[int, str, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom):
            continue
        module = node.module or ""
        if node.level:  # relative: from the package that holds ``path``
            parts = path.relative_to(ROOT).parts[: -node.level]
            module = ".".join([*parts, module] if module else parts)
        if module.split(".")[0] != "posdesk":
            continue
        found += [(node.lineno, module, alias.name) for alias in node.names if alias.name != "*"]
    return found


def has(module_name: str, name: str) -> bool:
    module = importlib.import_module(module_name)
    if hasattr(module, name):
        return True
    try:
        importlib.import_module(f"{module_name}.{name}")  # a submodule
    except ModuleNotFoundError:
        return False
    return True


def test_every_name_imported_from_posdesk_exists() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line}: {module} has no {name!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if "migrations" not in path.parts
        for line, module, name in imports_from_posdesk(path)
        if not has(module, name)
    ]
    assert not wrong, "\n".join(wrong)


def test_a_name_qt_lacks_is_found(tmp_path: Path) -> None:
    """The check sees an import inside a function, of a name ``posdesk.gui.qt`` does not make."""
    probe = tmp_path / "probe.py"
    probe.write_text("def open_it():\n    from posdesk.gui.qt import name\n", encoding="utf-8")
    (line, module, name) = imports_from_posdesk(probe)[0]
    assert (line, module, name) == (2, "posdesk.gui.qt", "name")
    assert not has(module, name)
    assert has(module, "QLabel") and has("posdesk.gui.widgets", "name")
