"""The packaged POS: the spec builds a one-folder bundle that passes its own self-test, and carries only
what the POS needs. Built with ``packaging/build-linux.sh``, the script CI and release builds use."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SIZE_LIMIT = 300 * 1024 * 1024  # measured ~200 MB; a sudden jump means something big slipped in
UNWANTED_QT = ("QtWebEngine", "Qt3D", "QtMultimedia", "QtQuick", "QtQml", "QtPdf", "QtCharts", "QtDesigner")
KEPT_PLUGIN_FOLDERS = {
    "platforms", "styles", "imageformats", "platformthemes", "platforminputcontexts", "xcbglintegrations",
}  # fmt: skip


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str], float]:
    where = tmp_path_factory.mktemp("bundle")
    env = dict(
        os.environ,
        PYTHON=sys.executable,
        POSDESK_DIST_DIR=str(where / "dist"),
        POSDESK_WORK_DIR=str(where / "work"),
        POSDESK_CLEAN_BUILD="0",  # reuse PyInstaller's binary cache between runs
    )
    env.pop("QT_QPA_PLATFORM", None)  # the script sets it for the self-test
    started = time.monotonic()
    result = subprocess.run(
        [str(ROOT / "packaging" / "build-linux.sh")],
        env=env, capture_output=True, text=True, timeout=840, check=False,
    )  # fmt: skip
    return where / "dist" / "posdesk", result, time.monotonic() - started


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_spec_builds_a_bundle_that_passes_its_self_test(bundle) -> None:
    folder, result, seconds = bundle
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "self-test (linux, frozen)" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "posdesk self-test: ok"
    assert (folder / "posdesk").is_file() and os.access(folder / "posdesk", os.X_OK)
    size = folder_size(folder)
    print(f"\nbundle: built and self-tested in {seconds:.0f} s, {size / 1024 / 1024:.0f} MB")
    assert size < SIZE_LIMIT


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_bundle_carries_what_the_pos_needs_and_no_more(bundle) -> None:
    folder, result, _seconds = bundle
    assert result.returncode == 0, result.stderr[-3000:]
    inside = folder / "_internal"
    for needed in (
        "resources/style/posdesk.qss",
        "resources/sample_data.json",
        "posdesk/companion/templates/pay.html",
        "posdesk/companion/static/pay.js",
        "posdesk/companion/i18n/es.json",
        "posdesk/store/migrations/env.py",
        "posdesk/companion/migrations/env.py",
        "stripe/data/ca-certificates.crt",
    ):
        assert (inside / needed).is_file(), needed
    assert list((inside / "posdesk/store/migrations/versions").glob("0001_*.py"))
    plugins = inside / "PySide6" / "Qt" / "plugins"
    assert {p.name for p in plugins.iterdir()} <= KEPT_PLUGIN_FOLDERS
    assert {p.name.split(".")[0] for p in (plugins / "platforms").iterdir()} <= {
        "libqxcb", "libqoffscreen", "libqminimal",
    }  # fmt: skip
    names = [p.name for p in inside.rglob("*")]
    assert not [n for n in names if any(unwanted in n for unwanted in UNWANTED_QT)]
    assert not [n for n in names if n.startswith(("libgtk-3", "psycopg"))]
    # Babel's locale data only for the shipped languages (bundle_filter.py): about 1 MB of 32.
    locale_data = {p.stem for p in (inside / "babel" / "locale-data").glob("*.dat")}
    assert {"en", "en_US", "es", "fr", "root"} <= locale_data
    assert not {"de", "ja", "zh"} & locale_data
    assert all(name.split("_")[0] in {"en", "es", "fr", "root"} for name in locale_data)
