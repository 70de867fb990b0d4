"""``./dev demo``'s pre-flight on a bare Debian machine: it names (or installs) the system packages Qt
needs before Qt starts, and says how to use a virtual screen when there is no display.

The real scripts run; ``dpkg-query``, ``id``, ``sudo`` and ``apt-get`` are stand-ins on PATH that answer
as a machine with a given set of installed packages would, and record what would be installed.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import require_tool

ROOT = Path(__file__).resolve().parents[2]
PREFLIGHT = ROOT / "scripts" / "demo-preflight"
SYSTEM_PACKAGES = ROOT / "scripts" / "system-packages"

# What Qt's xcb plugin and PySide6's libraries need (scripts/system-packages).
QT_PACKAGES = [
    "libegl1",
    "libgl1",
    "libglib2.0-0",
    "libfontconfig1",
    "libdbus-1-3",
    "libxkbcommon0",
    "libxkbcommon-x11-0",
    "libx11-xcb1",
    "libxcb1",
    "libxcb-cursor0",
    "libxcb-icccm4",
    "libxcb-image0",
    "libxcb-keysyms1",
    "libxcb-randr0",
    "libxcb-render0",
    "libxcb-render-util0",
    "libxcb-shape0",
    "libxcb-shm0",
    "libxcb-sync1",
    "libxcb-util1",
    "libxcb-xfixes0",
    "libxcb-xkb1",
    "fonts-dejavu-core",
]

FAKES = {
    "dpkg-query": """#!/bin/sh
# dpkg-query -W -f=... NAME: "install ok installed" when NAME is listed in $FAKE_INSTALLED
for last; do :; done
grep -qx "$last" "$FAKE_INSTALLED" && printf 'install ok installed' && exit 0
echo "dpkg-query: no packages found matching $last" >&2; exit 1
""",
    "id": '#!/bin/sh\necho "$FAKE_UID"\n',
    "sudo": """#!/bin/sh
[ "$FAKE_SUDO" = passwordless ] || { echo "sudo: a password is required" >&2; exit 1; }
[ "$1" = -n ] && shift
exec "$@"
""",
    "apt-get": """#!/bin/sh
echo "$@" >> "$FAKE_APT_LOG"
""",
}


@dataclass
class Machine:
    root: Path

    def run(
        self,
        script: Path,
        *args: str,
        installed: list[str],
        uid: int = 1000,
        sudo: str = "none",
        display: str | None = ":0",
    ) -> subprocess.CompletedProcess[str]:
        (self.root / "installed").write_text("\n".join(installed) + "\n")
        env = {
            "PATH": f"{self.root / 'bin'}:/usr/bin:/bin",
            "FAKE_INSTALLED": str(self.root / "installed"),
            "FAKE_UID": str(uid),
            "FAKE_SUDO": sudo,
            "FAKE_APT_LOG": str(self.apt_log),
            "HOME": str(self.root),
        }
        if display:
            env["DISPLAY"] = display
        return subprocess.run([str(script), *args], env=env, capture_output=True, text=True, timeout=30)

    @property
    def apt_log(self) -> Path:
        return self.root / "apt.log"

    def installs(self) -> list[str]:
        """The packages apt-get was asked to install."""
        if not self.apt_log.exists():
            return []
        lines = [line.split() for line in self.apt_log.read_text().splitlines()]
        return [word for line in lines if "install" in line for word in line if not word.startswith("-")][1:]


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in FAKES.items():
        (bin_dir / name).write_text(text)
        os.chmod(bin_dir / name, 0o755)
    return Machine(tmp_path)


def without(*names: str) -> list[str]:
    return [p for p in QT_PACKAGES if p not in names]


def test_a_user_without_root_is_told_the_exact_packages_and_command_before_qt_starts(
    machine: Machine,
) -> None:
    result = machine.run(PREFLIGHT, installed=without("libxcb-icccm4", "libxcb-keysyms1"))

    assert result.returncode == 1
    assert "sudo apt-get install -y libxcb-icccm4 libxcb-keysyms1\n" in result.stderr
    assert machine.installs() == []


def test_root_installs_only_what_is_missing(machine: Machine) -> None:
    result = machine.run(PREFLIGHT, installed=without("libxcb-icccm4", "libxcb-keysyms1"), uid=0)

    assert result.returncode == 0, result.stderr
    assert machine.installs() == ["libxcb-icccm4", "libxcb-keysyms1"]


def test_passwordless_sudo_installs_like_root(machine: Machine) -> None:
    result = machine.run(PREFLIGHT, installed=without("libxcb-cursor0"), sudo="passwordless")

    assert result.returncode == 0, result.stderr
    assert machine.installs() == ["libxcb-cursor0"]


def test_nothing_is_installed_or_said_when_everything_is_there(machine: Machine) -> None:
    result = machine.run(PREFLIGHT, installed=QT_PACKAGES)

    assert (result.returncode, result.stderr, machine.installs()) == (0, "", [])


def test_ubuntu_2404_renamed_libraries_count_as_installed(machine: Machine) -> None:
    result = machine.run(PREFLIGHT, installed=[*without("libglib2.0-0"), "libglib2.0-0t64"])

    assert (result.returncode, result.stderr) == (0, "")


def test_without_a_display_it_says_how_to_use_a_virtual_screen(machine: Machine) -> None:
    result = machine.run(PREFLIGHT, installed=QT_PACKAGES, display=None)

    assert result.returncode == 2
    assert "./dev demo --virtual-screen" in result.stderr
    assert machine.installs() == []


def test_the_virtual_screen_needs_xvfb_and_no_display(machine: Machine) -> None:
    result = machine.run(PREFLIGHT, "--virtual-screen", installed=QT_PACKAGES, display=None)

    assert result.returncode == 1
    assert "sudo apt-get install -y xvfb xauth\n" in result.stderr


def test_the_test_suite_carries_on_without_root_and_names_what_is_missing(machine: Machine) -> None:
    result = machine.run(SYSTEM_PACKAGES, "test", installed=QT_PACKAGES)

    assert result.returncode == 0
    assert "chromium xvfb xauth postgresql zbar-tools" in result.stderr
    assert machine.installs() == []


def test_dev_demo_stops_before_the_venv_and_qt_without_a_display(machine: Machine) -> None:
    result = machine.run(ROOT / "dev", "demo", installed=QT_PACKAGES, display=None)

    assert result.returncode == 2
    assert "./dev demo --virtual-screen" in result.stderr
    assert "preparing" not in result.stderr


@pytest.mark.e2e
@pytest.mark.slow
def test_the_demo_runs_on_a_virtual_screen_and_a_screenshot_shows_its_window(tmp_path: Path) -> None:
    require_tool("Xvfb")
    require_tool("xauth")
    env = dict(os.environ, POSDESK_SCREEN_STATE=str(tmp_path / "screen"))
    env.pop("QT_QPA_PLATFORM", None)
    env.pop("DISPLAY", None)
    demo = subprocess.Popen(
        [str(ROOT / "dev"), "demo", "--virtual-screen", "--data-dir", str(tmp_path / "data")],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert demo.stderr is not None
        said = [demo.stderr.readline() for _ in range(2)]
        assert "running on virtual screen :" in said[0], said
        assert "./dev screenshot demo.png" in said[1]
        shot = tmp_path / "demo.png"
        taken = subprocess.run(
            [str(ROOT / "dev"), "screenshot", "--wait", "90", str(shot)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert taken.returncode == 0, taken.stderr
        assert taken.stdout.strip() == f"{shot}: 1280x800"
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        demo.communicate(timeout=30)
    assert not (tmp_path / "screen").exists()  # Xvfb stopped with the demo, its address forgotten


def test_the_first_run_scripts_pass_shellcheck_and_the_ci_job_runs_the_one_procedure() -> None:
    shellcheck = require_tool("shellcheck")
    scripts = [ROOT / "dev", PREFLIGHT, SYSTEM_PACKAGES, ROOT / "scripts" / "bare-machine-check"]
    checked = subprocess.run([shellcheck, *map(str, scripts)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout
    workflow = (ROOT / ".github" / "workflows" / "bare-machine.yml").read_text("utf-8")
    assert "container: debian:12" in workflow
    assert "run: scripts/bare-machine-check" in workflow  # the same steps as a check by hand
