"""Where posdesk keeps its files. The one place that decides; tests redirect it with POSDESK_DATA_DIR
(read by :mod:`posdesk.config`)."""

from __future__ import annotations

from pathlib import Path

import platformdirs

from posdesk.config import PosConfig

APP_NAME = "posdesk"


def data_dir() -> Path:
    """The user's data directory for posdesk (created on first use)."""
    path = PosConfig.from_env().data_dir or Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def resources_dir() -> Path:
    """The bundled ``resources/`` folder (next to the package in a checkout, inside a frozen build)."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "resources", here / "resources"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("posdesk resources folder not found")
