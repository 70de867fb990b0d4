"""The release pipeline, checked where this machine can check it: the workflow's shape (signing that a
tag build cannot skip, both Mac architectures, checksums, hashed dependencies), the installer script,
the spec's settings, the Windows version resource, and what the bundle leaves out."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
sys.path[:0] = [str(PACKAGING / "pyinstaller"), str(PACKAGING / "windows")]

import bundle_filter  # noqa: E402
import version_info  # noqa: E402


def workflow() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        (ROOT / ".github" / "workflows" / "release.yml").read_text("utf-8")
    )
    return loaded


def steps(job: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = workflow()["jobs"][job]["steps"]
    return found


def test_a_tag_build_fails_without_signing_secrets() -> None:
    for job in ("windows", "macos"):
        first = steps(job)[0]
        assert first["if"] == "env.IS_TAG == 'true' && env.HAS_SIGNING != 'true'", job
        assert "exit 1" in first["run"] and "::error::" in first["run"]
        environment = workflow()["jobs"][job]["env"]
        assert "secrets." in environment["HAS_SIGNING"]
        assert environment["IS_TAG"] == "${{ startsWith(github.ref, 'refs/tags/') }}"


def test_windows_signs_through_a_cloud_signing_service_then_self_tests_the_signed_files() -> None:
    names = [step.get("uses") or step.get("name") for step in steps("windows")]
    sign = next(
        i for i, step in enumerate(steps("windows")) if "trusted-signing-action" in step.get("uses", "")
    )
    build = names.index("Build the bundle")
    installer = next(
        i for i, step in enumerate(steps("windows")) if "-Stage installer" in step.get("run", "")
    )
    assert build < sign < installer
    assert steps("windows")[sign]["with"]["files-folder"] == "dist/posdesk"
    script = (PACKAGING / "windows" / "build-windows.ps1").read_text("utf-8")
    # the installer stage self-tests before making the installer, and verifies every signature
    assert script.index('Invoke-SelfTest\n\nWrite-Host "==> installer"') > script.index(
        'if ($Stage -in "all", "bundle")'
    )
    assert "signtool verify /pa" in script.replace("& $SignTool verify /pa", "signtool verify /pa")
    assert "Windows Kits" in script  # signtool is not on PATH on the runners: found, not assumed


def test_the_inno_uninstaller_is_signed_and_silent_install_is_documented() -> None:
    iss = (PACKAGING / "windows" / "posdesk.iss").read_text("utf-8")
    signed = iss[iss.index("#ifdef Sign") : iss.index("#endif", iss.index("#ifdef Sign"))]
    assert "SignTool=trustedsigning" in signed and "SignedUninstaller=yes" in signed
    assert "/VERYSILENT /SUPPRESSMSGBOXES /NORESTART /CLOSEAPPLICATIONS /LOG=" in iss
    assert "PrivilegesRequired=admin" in iss  # per machine; data per user (docs/release.md)
    release = (ROOT / "docs" / "release.md").read_text("utf-8")
    assert "/VERYSILENT /SUPPRESSMSGBOXES /NORESTART /CLOSEAPPLICATIONS" in release
    assert "several Windows accounts" in release


def test_macos_builds_both_architectures_for_macos_13() -> None:
    job = workflow()["jobs"]["macos"]
    assert {entry["arch"] for entry in job["strategy"]["matrix"]["include"]} == {"x86_64", "arm64"}
    assert job["env"]["MACOSX_DEPLOYMENT_TARGET"] == "13.0"
    assert job["env"]["POSDESK_TARGET_ARCH"] == "${{ matrix.arch }}"
    spec = (PACKAGING / "pyinstaller" / "posdesk.spec").read_text("utf-8")
    assert 'MACOS_MINIMUM = "13.0"' in spec and '"LSMinimumSystemVersion": MACOS_MINIMUM' in spec
    assert "codesign_identity=CODESIGN_IDENTITY" in spec and "entitlements_file=ENTITLEMENTS" in spec
    assert "target_arch=TARGET_ARCH" in spec
    for doc in ("docs/release.md", "docs/deploy.md", "README.md"):
        assert "macOS 11" not in (ROOT / doc).read_text("utf-8"), doc


def test_the_mac_app_is_self_tested_after_signing_and_everything_is_stapled() -> None:
    script = (PACKAGING / "macos" / "build-dmg.sh").read_text("utf-8")
    assert (
        script.index("PyInstaller --noconfirm")
        < script.index("--self-test")
        < script.index('notarize "$WORK')
    )
    assert 'xcrun stapler staple "$APP"' in script
    assert 'xcrun stapler staple "$DMG"' in script and 'xcrun stapler staple "$PKG"' in script
    assert 'productbuild --component "$APP" /Applications --sign "$APPLE_INSTALLER_IDENTITY"' in script
    assert "Resource busy" in script and "for attempt in" in script


def test_the_release_carries_checksums() -> None:
    run = " ".join(step.get("run", "") for step in steps("publish"))
    assert "sha256sum -- * > SHA256SUMS" in run
    assert run.index("SHA256SUMS") < run.index("gh release create")


def test_builds_install_pinned_hashed_dependencies() -> None:
    for job in ("linux", "windows", "macos"):
        run = "\n".join(step.get("run", "") for step in steps(job))
        assert "pip install --require-hashes -r packaging/requirements-build.txt" in run, job
        assert "pip install --no-deps" in run and "'.[dev]'" not in run, job
    lock = (PACKAGING / "requirements-build.txt").read_text("utf-8")
    pins = dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==(\S+)", lock, flags=re.MULTILINE))
    blocks = re.split(r"\n(?=[a-z0-9])", lock.strip())
    assert all("--hash=sha256:" in block for block in blocks if not block.startswith("#"))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["companion"]]
    wanted += [line for line in project["optional-dependencies"]["pos"] if not line.startswith("posdesk")]
    wanted += ["pyinstaller>=6.10,<7"]
    for line in wanted:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not pinned in packaging/requirements-build.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), (line, pins[name])


def test_the_windows_version_resource_carries_the_version() -> None:
    text = version_info.version_file_text("1.4.2")
    made: dict[str, Any] = {}

    def record(kind: str):
        def make(*args: Any, **kwargs: Any) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
            made.setdefault(kind, []).append((args, kwargs))
            return kind, args, kwargs

        return make

    names = (
        "VSVersionInfo",
        "FixedFileInfo",
        "StringFileInfo",
        "StringTable",
        "StringStruct",
        "VarFileInfo",
        "VarStruct",
    )
    eval(text, {name: record(name) for name in names})  # as PyInstaller reads the file
    assert made["FixedFileInfo"][0][1]["filevers"] == (1, 4, 2, 0)
    strings = dict(args for args, _ in made["StringStruct"])
    assert strings["FileVersion"] == strings["ProductVersion"] == "1.4.2"
    assert strings["OriginalFilename"] == "posdesk.exe" and strings["ProductName"] == "posdesk"
    assert version_info.version_tuple("2.0.0rc1") == (2, 0, 0, 0)
    spec = (PACKAGING / "pyinstaller" / "posdesk.spec").read_text("utf-8")
    assert "version=VERSION_FILE" in spec and 'name="posdesk-cli"' in spec and "console=True" in spec


def test_the_bundle_leaves_out_unused_locale_data_and_software_opengl() -> None:
    keep = bundle_filter.keep
    for kept in ("babel/locale-data/en.dat", "babel/locale-data/en_US.dat", "babel/locale-data/es_MX.dat",
                 "babel/locale-data/fr_CA.dat", "babel/locale-data/root.dat", "babel/global.dat"):  # fmt: skip
        assert keep(kept), kept
    for dropped in (
        "babel/locale-data/de_DE.dat",
        "babel/locale-data/ja.dat",
        "babel/locale-data/zh_Hant.dat",
    ):
        assert not keep(dropped), dropped
    assert not keep("PySide6/opengl32sw.dll", platform="win32")
    assert keep("PySide6/Qt6Widgets.dll", platform="win32")
    assert not keep("PySide6/Qt/plugins/platforms/libqwayland-egl.so")
    assert keep("PySide6/Qt/plugins/platforms/libqoffscreen.so")


def test_the_kept_locale_data_follows_the_payment_pages_languages() -> None:
    from posdesk.companion.i18n import LANGUAGES

    assert set(bundle_filter.SHIPPED_LANGUAGES) == set(LANGUAGES)


def test_the_packaging_shell_scripts_pass_shellcheck() -> None:
    import subprocess

    from tests.conftest import require_tool

    shellcheck = require_tool("shellcheck")
    scripts = [
        PACKAGING / "build-linux.sh",
        PACKAGING / "macos" / "build-dmg.sh",
        PACKAGING / "companion" / "backup.sh",
        PACKAGING / "companion" / "restore.sh",
    ]
    checked = subprocess.run([shellcheck, *map(str, scripts)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout
