"""QR codes for invoice links: segno draws a PNG, Qt shows it."""

from __future__ import annotations

import io

from posdesk.gui.qt import QBuffer, QByteArray, QIODevice, QPixmap


def qr_png(text: str, scale: int = 6) -> bytes:
    """PNG bytes of a QR code for ``text`` (error correction M, quiet zone of 4 modules)."""
    import segno  # on the first QR code, not at start-up

    buffer = io.BytesIO()
    segno.make(text, error="m", micro=False).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def qr_pixmap(text: str, scale: int = 6) -> QPixmap:
    pixmap = QPixmap()
    pixmap.loadFromData(qr_png(text, scale), "PNG")
    return pixmap


def pixmap_png(pixmap: QPixmap) -> bytes:
    """The PNG bytes of what a label shows (tests decode it back with zbarimg)."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    pixmap.save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())
