"""One configuration per program: only the two configuration modules read posdesk's environment.

A setting read somewhere else escapes the check of bad values by name, the example environment file and
the object handed to the companion's workers (issue: ``POSDESK_POS_*`` read per request in a route).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "posdesk"
CONFIG_MODULES = {"config.py", "companion/config.py"}
# Other modules that touch os.environ, and why: none of them reads a posdesk setting.
OTHER_USES = {
    "gui/__main__.py": "reads DISPLAY/WAYLAND_DISPLAY to explain a missing display; --data-dir is handed "
    "to PosConfig as POSDESK_DATA_DIR before anything reads it",
    "selftest.py": "sets Qt's QT_QPA_PLATFORM=offscreen for the self-test",
}


def environment_uses(tree: ast.AST) -> list[int]:
    """Lines that use os.environ or os.getenv (also as ``from os import environ``)."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            uses = node.attr in {"environ", "getenv", "putenv"}
        elif isinstance(node, ast.ImportFrom):
            uses = node.module == "os" and bool({alias.name for alias in node.names} & {"environ", "getenv"})
        else:
            uses = False
        if uses:
            lines.append(node.lineno)
    return lines


def test_only_the_configuration_modules_read_the_environment() -> None:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        lines = environment_uses(ast.parse(path.read_text("utf-8")))
        if lines and name not in CONFIG_MODULES:
            found[name] = lines
    assert set(found) == set(OTHER_USES), found


def test_the_check_sees_a_read_of_the_environment() -> None:
    assert environment_uses(ast.parse("import os\nos.environ.get('POSDESK_X')")) == [2]
    assert environment_uses(ast.parse("from os import getenv\ngetenv('POSDESK_X')")) == [1]
    assert environment_uses(ast.parse("import os\nos.path.join('a')")) == []
