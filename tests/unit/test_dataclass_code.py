"""The dataclass code the POS keeps for its next start (posdesk.dataclass_code): the classes a start makes
from kept code are the classes Python's dataclasses would make, a later start compiles nothing, and a
damaged, foreign or unwritable file only costs the compiling it saves."""

from __future__ import annotations

import json
import marshal
import subprocess
import sys
from pathlib import Path

import pytest

from posdesk import dataclass_code

ROOT = Path(__file__).resolve().parents[2]

# A fresh interpreter: install from the folder, make frozen slotted classes as posdesk writes them, use
# them, keep, and say what it compiled and what the classes did.
PROGRAM = r"""
import dataclasses, json, sys
from pathlib import Path
from posdesk import dataclass_code

folder = Path(sys.argv[1])
compiled = []
real_compile = compile
def counting_compile(source, *args, **kwargs):
    compiled.append(source)
    return real_compile(source, *args, **kwargs)
dataclass_code.compile = counting_compile  # the module's own name for the builtin

dataclass_code.install(folder)

@dataclasses.dataclass(frozen=True, slots=True)
class Price:
    amount: int
    currency: str = "USD"
    tags: tuple[str, ...] = ()

@dataclasses.dataclass
class Draft:
    lines: list[str] = dataclasses.field(default_factory=list)
    note: str = ""

price = Price(1250, tags=("promo",))
try:
    price.amount = 1
    frozen = False
except dataclasses.FrozenInstanceError:
    frozen = True
draft = Draft()
draft.lines.append("cut")
dataclass_code.keep(folder)
print(json.dumps({
    "compiled": len(compiled),
    "repr": repr(price),
    "eq": price == Price(1250, "USD", ("promo",)),
    "ne": price != Price(1250, "EUR", ("promo",)),
    "hash": hash(price) == hash(Price(1250, "USD", ("promo",))),
    "frozen": frozen,
    "slots": not hasattr(price, "__dict__"),
    "replace": repr(dataclasses.replace(price, amount=5)),
    "fields": [f.name for f in dataclasses.fields(Price)],
    "draft": repr(draft),
    "draft_defaults_fresh": Draft().lines == [],
    "init_annotations": sorted(Price.__init__.__annotations__),
}))
"""


def run_in_fresh_interpreter(folder: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(folder)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_start_from_kept_code_makes_the_same_classes_and_compiles_nothing(tmp_path: Path) -> None:
    first = run_in_fresh_interpreter(tmp_path)
    kept = tmp_path / dataclass_code.FILE
    assert isinstance(first["compiled"], int) and first["compiled"] > 0 and kept.exists()
    written = kept.stat().st_mtime_ns
    second = run_in_fresh_interpreter(tmp_path)
    assert second["compiled"] == 0
    assert {k: v for k, v in second.items() if k != "compiled"} == {
        k: v for k, v in first.items() if k != "compiled"
    }
    assert second["repr"] == "Price(amount=1250, currency='USD', tags=('promo',))"
    assert second["eq"] and second["ne"] and second["hash"] and second["frozen"] and second["slots"]
    assert second["replace"] == "Price(amount=5, currency='USD', tags=('promo',))"
    assert second["draft"] == "Draft(lines=['cut'], note='')" and second["draft_defaults_fresh"]
    assert kept.stat().st_mtime_ns == written  # nothing new: the file is left as it was


@pytest.mark.parametrize(
    "content",
    [b"", b"not marshal at all", marshal.dumps(("cpython-27 2.7.18", {})), marshal.dumps([1, 2, 3])],
    ids=["empty", "garbage", "another python", "another shape"],
)
def test_a_damaged_or_foreign_file_is_compiled_afresh_and_rewritten(tmp_path: Path, content: bytes) -> None:
    baseline = run_in_fresh_interpreter(tmp_path / "clean")
    (tmp_path / dataclass_code.FILE).write_bytes(content)
    result = run_in_fresh_interpreter(tmp_path)
    assert result["compiled"] == baseline["compiled"]
    assert isinstance(result["compiled"], int) and result["compiled"] > 0
    assert result["repr"] == baseline["repr"]
    assert run_in_fresh_interpreter(tmp_path)["compiled"] == 0  # rewritten for the next start


def test_keeping_into_a_folder_it_cannot_write_warns_and_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "gone" / "deeper"  # no such folder: the write fails as a read-only one would
    source = "def __create_fn__():\n def f(self):\n  return 1\n return f"
    namespace: dict[str, object] = {}
    dataclass_code._exec(source, {}, namespace)
    try:
        with caplog.at_level("WARNING", logger="posdesk.dataclass_code"):
            dataclass_code.keep(missing)
        assert "cannot keep the dataclass code" in caplog.text
        assert not missing.exists()
    finally:
        dataclass_code._used.discard(source)
        dataclass_code._compiled.pop(source, None)
