"""The wheel: ``pip install posdesk`` gives a POS that finds its sample data and style and passes its
self-test, and the package list in pyproject.toml leaves nothing behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from setuptools import find_namespace_packages

ROOT = Path(__file__).resolve().parents[2]


def listed_packages() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return set(config["tool"]["setuptools"]["packages"])


def test_every_folder_of_the_program_is_a_listed_package() -> None:
    found = {p for p in find_namespace_packages(str(ROOT), include=["posdesk*"]) if "__pycache__" not in p}
    assert found | {"posdesk.resources"} == listed_packages(), (
        "add the new package (or folder of templates/static files) to [tool.setuptools] packages"
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the sources (the checkout stays clean), unpacked as pip would."""
    where = tmp_path_factory.mktemp("wheel")
    source = where / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("posdesk", "resources"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run(
        [sys.executable, "-c", f"from setuptools import build_meta; print(build_meta.build_wheel({str(where)!r}))"],
        cwd=source, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = where / built.stdout.strip().splitlines()[-1]
    site = where / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    return site


def run_installed(site: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(site), POSDESK_DATA_DIR=str(tmp_path / "data"), QT_QPA_PLATFORM="offscreen")
    return subprocess.run(
        [sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_the_installed_pos_finds_its_sample_data_and_style(installed: Path, tmp_path: Path) -> None:
    found = run_installed(
        installed, tmp_path, "-c",
        "import posdesk, posdesk.paths as p; r = p.resources_dir(); "
        "print(posdesk.__file__); print(r); print(sorted(x.name for x in r.iterdir()))",
    )  # fmt: skip
    assert found.returncode == 0, found.stderr[-3000:]
    module, resources, names = found.stdout.strip().splitlines()
    assert Path(module).is_relative_to(installed)  # the wheel's copy, not the checkout
    assert Path(resources) == installed / "posdesk" / "resources"
    assert "sample_data.json" in names and "style" in names


@pytest.mark.slow
def test_the_installed_pos_passes_its_self_test(installed: Path, tmp_path: Path) -> None:
    result = run_installed(installed, tmp_path, "-m", "posdesk.gui", "--self-test")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "posdesk self-test: ok"
