"""The documentation a new developer follows: every guide reachable from the README, and every command
in the README and the developer guides runnable as written from the checkout (no activated venv)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
# Guides whose commands run in the checkout (deploy.md's run on a server, from its install).
DEVELOPER_DOCS = [README, ROOT / "docs" / "companion.md", ROOT / "docs" / "reliability.md"]
NEEDS_A_VENV = re.compile(r"^(?:\$ )?(?:posdesk|posdesk-companion|python|pytest|pip|uvicorn|alembic)\b")


def commands(doc: Path) -> list[str]:
    """The lines of the ``sh`` blocks and of the indented command blocks in ``doc``."""
    text = doc.read_text("utf-8")
    fenced = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    indented = re.findall(r"\n\n((?:    \S.*\n)+)", text)
    lines = [line.strip() for block in fenced + indented for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_every_guide_is_linked_from_the_readme() -> None:
    linked = set(re.findall(r"\]\((docs/[^)#]+\.md)", README.read_text("utf-8")))
    guides = {f"docs/{path.name}" for path in (ROOT / "docs").glob("*.md")}
    assert guides - linked == set()


@pytest.mark.parametrize("doc", DEVELOPER_DOCS, ids=lambda doc: doc.name)
def test_commands_run_from_the_checkout_without_an_activated_venv(doc: Path) -> None:
    found = commands(doc)
    assert found, f"no commands found in {doc.name}"
    assert [line for line in found if NEEDS_A_VENV.match(line)] == []


def test_every_dev_subcommand_the_docs_use_exists() -> None:
    dev = (ROOT / "dev").read_text("utf-8")
    known = set(re.findall(r"^  ([a-z-]+)\)", dev, flags=re.M))
    used = {
        match for doc in DEVELOPER_DOCS for match in re.findall(r"\./dev ([a-z-]+)", doc.read_text("utf-8"))
    }
    assert used and used - known == set()
