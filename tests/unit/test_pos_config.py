"""The POS's configuration: its few environment variables read in posdesk/config.py, bad values refused
by name before anything starts (the companion checks the shared ones too)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from posdesk import logs, paths
from posdesk.companion.config import CompanionConfig
from posdesk.config import ConfigError, PosConfig


def test_the_variables_it_reads(tmp_path: Path) -> None:
    env = {
        "POSDESK_DATA_DIR": str(tmp_path / "data"),
        "POSDESK_LOG_LEVEL": "debug",
        "POSDESK_STARTUP_PROBE": "1",
        "POSDESK_SELF_TEST_TRACEBACK": "yes",
    }
    assert PosConfig.from_env(env) == PosConfig(tmp_path / "data", logging.DEBUG, True, True)
    assert PosConfig.from_env({}) == PosConfig(None, logging.INFO, False, False)


def test_the_data_folder_and_log_level_come_from_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("POSDESK_DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("POSDESK_LOG_LEVEL", "WARNING")
    assert paths.data_dir() == tmp_path / "elsewhere" and (tmp_path / "elsewhere").is_dir()
    assert logs.server_log_config()["root"] == {"level": "WARNING", "handlers": ["stderr"]}


@pytest.mark.parametrize(
    ("variable", "value"), [("POSDESK_LOG_LEVEL", "LOUD"), ("POSDESK_STARTUP_PROBE", "please")]
)
def test_a_bad_value_is_refused_by_name(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        PosConfig.from_env({variable: value})
    with pytest.raises(ConfigError, match=variable):  # the companion refuses the shared ones at start too
        CompanionConfig.from_env({variable: value})


def test_the_pos_stops_before_its_window_naming_the_variable(tmp_path: Path) -> None:
    env = {**os.environ, "POSDESK_LOG_LEVEL": "LOUD", "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-m", "posdesk.gui", "--data-dir", str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "posdesk: POSDESK_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not 'LOUD'" in done.stderr
