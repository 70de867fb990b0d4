"""Read a QR code back from a PNG with zbarimg (Debian's zbar-tools): a real round trip for QR tests."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from tests.plugins import require_tool

ZBARIMG = "/usr/bin/zbarimg"


def decode_qr_png(png: bytes | str | os.PathLike[str]) -> str:
    """The text of the one QR code in a PNG (bytes, or a path to the file).

    Runs ``zbarimg --raw -q`` (QR codes only). Raises ``AssertionError`` when the image holds no QR code
    (an image with several gives their texts one per line). Skips the test locally / fails it in CI when
    zbarimg is missing.
    """
    zbarimg = require_tool("zbarimg", ZBARIMG)
    if isinstance(png, bytes | bytearray):
        with tempfile.TemporaryDirectory(prefix="posdesk-qr-") as folder:
            path = Path(folder) / "code.png"
            path.write_bytes(png)
            return _decode(zbarimg, path)
    return _decode(zbarimg, Path(png))


def _decode(zbarimg: str, path: Path) -> str:
    if not path.is_file():
        raise FileNotFoundError(path)
    result = subprocess.run(
        [zbarimg, "--raw", "-q", "-Sdisable", "-Sqrcode.enable", str(path)],
        capture_output=True,
        timeout=30,
        check=False,
    )
    if result.returncode == 4:  # zbarimg: no symbol found
        raise AssertionError(f"no QR code found in {path}")
    if result.returncode != 0:
        raise RuntimeError(
            f"zbarimg failed ({result.returncode}) on {path}: {result.stderr.decode(errors='replace')}"
        )
    text = result.stdout.decode("utf-8")
    if text.endswith("\n"):
        text = text[:-1]
    return text
