"""What the PyInstaller spec leaves out of the POS bundle, as plain functions the tests can call.

``keep(dest)`` decides for each collected file by its path inside the bundle: only the Qt plugins the
POS uses, no Qt libraries that only dropped plugins need, no Qt UI translations, on Linux no GTK stack,
on Windows no ``opengl32sw.dll`` (a 20 MB software OpenGL the widgets never use), and Babel's locale
data only for the languages the POS and its payment page ship (about 1 MB of its 32 MB).
"""

from __future__ import annotations

import sys
from pathlib import PurePath

# The payment page's languages (posdesk.companion.i18n.LANGUAGES); the POS itself formats in en_US.
SHIPPED_LANGUAGES = ("en", "es", "fr")

QT_PLUGINS_KEPT = {
    "platforms",
    "styles",
    "imageformats",
    "platformthemes",
    "platforminputcontexts",
    "xcbglintegrations",
}
QT_PLATFORMS_KEPT = ("qwindows", "qcocoa", "qxcb", "qoffscreen", "qminimal", "libqwindows", "libqcocoa",
                     "libqxcb", "libqoffscreen", "libqminimal")  # fmt: skip
QT_IMAGEFORMATS_KEPT = ("qico", "libqico")
# Qt libraries that only the dropped plugins pull in.
QT_LIBRARIES_DROPPED = ("Qt6Wayland", "Qt6WlShell", "Qt6EglFS", "Qt6EglFs", "Qt6Svg", "Qt6Pdf", "Qt6Qml",
                        "Qt6Quick", "Qt6Network", "Qt6OpenGL", "Qt6VirtualKeyboard", "Qt6Multimedia",
                        "Qt6WebEngine", "Qt63D")  # fmt: skip
# Windows: Mesa's software OpenGL, loaded only when Qt Quick or OpenGL widgets find no driver.
WINDOWS_DROPPED = ("opengl32sw.dll",)
# Linux: the GTK stack that only Qt's GTK platform theme (dropped above) links against.
GTK_STACK = ("libgtk-3.", "libgdk-3.", "libatk-1.0.", "libatk-bridge-2.0.", "libatspi.", "libepoxy.",
             "libpango-1.0.", "libpangocairo-1.0.", "libpangoft2-1.0.", "libcairo.", "libcairo-gobject.",
             "libgdk_pixbuf-2.0.", "libpixman-1.", "libfribidi.", "libthai.", "libdatrie.", "libgraphite2.",
             "libharfbuzz.", "libjpeg.", "libXcomposite.", "libXdamage.", "libXi.", "libXinerama.",
             "libXcursor.", "libXrandr.")  # fmt: skip


def keep_locale_data(name: str) -> bool:
    """Babel's ``locale-data/<locale>.dat``: the shipped languages, their regions, and ``root``."""
    language = name.split(".")[0].split("_")[0]
    return language in (*SHIPPED_LANGUAGES, "root")


def keep(dest: str, platform: str = sys.platform) -> bool:
    """Whether a collected file (by its path inside the bundle) belongs in the POS build."""
    parts = PurePath(dest).parts
    name = PurePath(dest).name
    if "plugins" in parts:
        index = parts.index("plugins") + 1
        folder = parts[index] if index < len(parts) else ""
        if folder not in QT_PLUGINS_KEPT:
            return False
        stem = name.split(".")[0]
        if folder == "platforms" and stem not in QT_PLATFORMS_KEPT:
            return False
        if folder == "imageformats" and stem not in QT_IMAGEFORMATS_KEPT:
            return False
        if folder == "platformthemes" and "xdgdesktopportal" not in stem:
            return False
    if any(library in name for library in QT_LIBRARIES_DROPPED):
        return False
    if name.lower() in WINDOWS_DROPPED:
        return False
    if platform.startswith("linux") and len(parts) == 1 and name.startswith(GTK_STACK):
        return False
    if "translations" in parts and "Qt" in parts:
        return False  # Qt's own UI translations: the POS's strings are its own
    if "locale-data" in parts and "babel" in parts and name.endswith(".dat"):
        return keep_locale_data(name)
    return True
