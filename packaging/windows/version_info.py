"""The Windows version resource of posdesk.exe and posdesk-cli.exe, from ``posdesk.__version__``.

Intune, SCCM and Explorer read it (File version, Product version, Original filename): a detection
rule "posdesk.exe file version >= 1.2.0" then finds outdated terminals. Picard's
``win-version-info.txt`` is the model; here it is generated at build time, so the version is never
written twice. The PyInstaller spec calls :func:`write_version_file`.
"""

from __future__ import annotations

import re
from pathlib import Path

COMPANY = "posdesk"
PRODUCT = "posdesk"
DESCRIPTION = "posdesk point of sale"


def version_tuple(version: str) -> tuple[int, int, int, int]:
    """``"1.2.3"`` -> ``(1, 2, 3, 0)``; a pre-release (``"1.3.0rc1"``) counts as its release's numbers."""
    leading = re.match(r"\d+(?:\.\d+)*", version)
    numbers = [int(part) for part in leading.group(0).split(".")[:4]] if leading else []
    padded = [*numbers, 0, 0, 0, 0][:4]
    return padded[0], padded[1], padded[2], padded[3]


def version_file_text(version: str) -> str:
    """PyInstaller's version-file format (a ``VSVersionInfo`` expression)."""
    numbers = version_tuple(version)
    strings = {
        "CompanyName": COMPANY,
        "FileDescription": DESCRIPTION,
        "FileVersion": version,
        "InternalName": "posdesk",
        "LegalCopyright": f"© {COMPANY}",
        "OriginalFilename": "posdesk.exe",
        "ProductName": PRODUCT,
        "ProductVersion": version,
    }
    table = ",\n          ".join(f"StringStruct({key!r}, {value!r})" for key, value in strings.items())
    return f"""# UTF-8
VSVersionInfo(
  ffi=FixedFileInfo(
    filevers={numbers}, prodvers={numbers}, mask=0x3F, flags=0x0, OS=0x40004, fileType=0x1,
    subtype=0x0, date=(0, 0)
  ),
  kids=[
    StringFileInfo([
      StringTable('040904B0', [
          {table}
      ])
    ]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])
  ]
)
"""


def write_version_file(version: str, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(version_file_text(version), encoding="utf-8")
    return str(path)
