"""Render ``posdesk.svg`` into the icon files the installers need: PNG sizes, Windows ``.ico``, macOS ``.icns``.

Run after editing the SVG (the outputs are committed, so a build needs no image tools):

    QT_QPA_PLATFORM=offscreen python packaging/icons/make_icons.py

Both container formats are written by hand: ICO and ICNS may embed plain PNG images (Windows Vista and
later, macOS 10.7 and later), which keeps this script free of Pillow and of Apple's ``iconutil``.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

HERE = Path(__file__).resolve().parent
SVG = HERE / "posdesk.svg"
PNG_SIZES = (16, 32, 48, 64, 128, 256, 512, 1024)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# ICNS element types that hold PNG data, by pixel size.
ICNS_TYPES = {16: b"icp4", 32: b"icp5", 64: b"icp6", 128: b"ic07", 256: b"ic08", 512: b"ic09", 1024: b"ic10"}


def render_png(renderer: QSvgRenderer, size: int) -> bytes:
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data.data())


def ico(images: dict[int, bytes]) -> bytes:
    """A Windows icon file whose entries are PNG images (a size byte of 0 means 256)."""
    header = struct.pack("<HHH", 0, 1, len(images))
    offset = len(header) + 16 * len(images)
    entries, blobs = b"", b""
    for size, png in sorted(images.items()):
        entries += struct.pack("<BBBBHHII", size % 256, size % 256, 0, 0, 1, 32, len(png), offset)
        blobs += png
        offset += len(png)
    return header + entries + blobs


def icns(images: dict[int, bytes]) -> bytes:
    """A macOS icon file: big-endian (type, length) elements holding PNG data."""
    body = b"".join(
        ICNS_TYPES[size] + struct.pack(">I", 8 + len(png)) + png for size, png in sorted(images.items())
    )
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def main() -> int:
    _app = QGuiApplication(sys.argv)
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        print(f"cannot read {SVG}", file=sys.stderr)
        return 1
    pngs = {size: render_png(renderer, size) for size in sorted(set(PNG_SIZES) | set(ICO_SIZES))}
    for size in PNG_SIZES:
        (HERE / f"posdesk-{size}.png").write_bytes(pngs[size])
    (HERE / "posdesk.ico").write_bytes(ico({size: pngs[size] for size in ICO_SIZES}))
    (HERE / "posdesk.icns").write_bytes(icns({size: pngs[size] for size in ICNS_TYPES}))
    print(f"wrote {len(PNG_SIZES)} PNGs, posdesk.ico and posdesk.icns in {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
