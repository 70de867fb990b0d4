"""The code Python's dataclasses write for posdesk's classes, compiled once and kept for the next start.

``@dataclass`` writes the source of each class's methods (``__init__``, ``__repr__``, ``__eq__``,
``__hash__``, and a frozen class's ``__setattr__`` and ``__delattr__``) and compiles it while the class
is made: for the ~40 classes the POS's first frame imports, ~220 functions from 80 KB of source, a
tenth of its start-up (~35 ms here, DESIGN.md section 7). That source is the same from one start to
the next. :func:`install` gives ``dataclasses`` an ``exec`` that takes the compiled code from what
:func:`keep` wrote at the last start (``dataclass-code.bin`` in the data folder, by the exact source text
and this Python's version), and compiles only what it has not seen.

The functions are the ones ``dataclasses`` would make: ``exec`` of a source text runs its compiled code,
and it is compiled as ``dataclasses`` compiles it (no ``__future__`` flag of this module inherited). A
missing, stale, foreign or unreadable file costs one start the compiling, as before, and is rewritten.
Like Python's own ``__pycache__``, the file is code this program runs: it lives in the terminal's data
folder, which only its user can write.
"""

from __future__ import annotations

import builtins
import dataclasses
import logging
import marshal
import os
import sys
from pathlib import Path
from types import CodeType
from typing import Any

log = logging.getLogger(__name__)
FILE = "dataclass-code.bin"
# Marshal's format and the text dataclasses write both follow Python's version.
_VERSION = f"{sys.implementation.cache_tag} {sys.version}"

_compiled: dict[str, CodeType] = {}  # source text -> its code: kept at the last start, or compiled now
_used: set[str] = set()  # the texts this start ran: what keep() writes (others are left behind)
_kept: set[str] = set()  # the texts the file holds (as read, then as written)
compiled_count = 0  # functions this start compiled itself (the rest came from the kept code)


def _exec(
    source: Any, globals: dict[str, Any] | None = None, locals: dict[str, Any] | None = None, /
) -> None:
    """``exec`` as ``dataclasses`` calls it, with its source texts' code kept."""
    if isinstance(source, str):
        code = _compiled.get(source)
        if code is None:
            global compiled_count
            code = _compiled[source] = compile(source, "<string>", "exec", dont_inherit=True)
            compiled_count += 1
        _used.add(source)
        source = code
    builtins.exec(source, globals, locals)


def install(data_dir: Path) -> None:
    """Read what the last start kept in ``data_dir`` and have ``dataclasses`` use it: before the modules
    whose classes it should serve are imported."""
    try:
        version, kept = marshal.loads((data_dir / FILE).read_bytes())
    except FileNotFoundError:
        pass
    except (OSError, ValueError, EOFError, TypeError) as exc:  # a damaged file: compiled afresh, rewritten
        log.info("kept dataclass code not read: %s", exc)
    else:
        if version == _VERSION and isinstance(kept, dict):
            _compiled.update(kept)
            _kept.update(kept)
    dataclasses.exec = _exec  # type: ignore[attr-defined]  # its module global: dataclasses calls exec by name


def keep(data_dir: Path) -> None:
    """Write the code this start used for the next one, when it differs from what the file holds."""
    if not _used - _kept:  # nothing compiled anew: the file serves this start as it is
        return
    kept = {text: _compiled[text] for text in _used}
    path = data_dir / FILE
    partial = path.with_name(f"{FILE}.{os.getpid()}.tmp")
    try:
        partial.write_bytes(marshal.dumps((_VERSION, kept)))
        os.replace(partial, path)
    except OSError as exc:  # a read-only data folder: the next start compiles, as it always did
        log.warning("cannot keep the dataclass code: %s", exc)
        partial.unlink(missing_ok=True)
        return
    _kept.clear()
    _kept.update(kept)
