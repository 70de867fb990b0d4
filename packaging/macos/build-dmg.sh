#!/usr/bin/env bash
# Build posdesk.app for one architecture, signed by PyInstaller, self-test the signed app, notarize and
# staple it, and wrap it in a signed, notarized, stapled .dmg and a signed .pkg (for Jamf, Intune, or
# any MDM: they install packages, not disk images).
#
#   POSDESK_TARGET_ARCH=arm64 packaging/macos/build-dmg.sh
#     -> dist/posdesk-<version>-macos-<arch>.dmg and dist/posdesk-<version>-macos-<arch>.pkg
#
# posdesk needs macOS 13 or newer (PySide6 6.11): MACOSX_DEPLOYMENT_TARGET=13.0 and the app's
# LSMinimumSystemVersion say so. Build each architecture on its own runner (arm64 and x86_64; the
# release workflow does both) or POSDESK_TARGET_ARCH=universal2 with a universal2 Python and wheels.
#
# Signing and notarization (all set, or the steps are skipped with a message saying so; a tag build in
# the release workflow fails instead):
#   APPLE_SIGNING_IDENTITY    "Developer ID Application: Your Company (TEAMID)" (the app and the dmg)
#   APPLE_INSTALLER_IDENTITY  "Developer ID Installer: Your Company (TEAMID)" (the pkg)
#   APPLE_ID, APPLE_TEAM_ID, APPLE_APP_PASSWORD   notarytool's account, team and app-specific password
# Optional: PYTHON, POSDESK_DIST_DIR (default dist), POSDESK_WORK_DIR (default build),
#           POSDESK_CLEAN_BUILD=0 to reuse PyInstaller's caches.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PYTHON=${PYTHON:-python3}
if [ -x "$ROOT/.venv/bin/python" ] && [ "$PYTHON" = python3 ]; then PYTHON="$ROOT/.venv/bin/python"; fi
DIST=${POSDESK_DIST_DIR:-$ROOT/dist}
WORK=${POSDESK_WORK_DIR:-$ROOT/build}
ARCH=${POSDESK_TARGET_ARCH:-$(uname -m)}
export POSDESK_TARGET_ARCH=$ARCH MACOSX_DEPLOYMENT_TARGET=${MACOSX_DEPLOYMENT_TARGET:-13.0}
VERSION=$("$PYTHON" -c "import sys; sys.path.insert(0, '$ROOT'); import posdesk; print(posdesk.__version__)")
APP="$DIST/posdesk.app"
DMG="$DIST/posdesk-$VERSION-macos-$ARCH.dmg"
PKG="$DIST/posdesk-$VERSION-macos-$ARCH.pkg"
clean=()
if [ "${POSDESK_CLEAN_BUILD:-1}" = 1 ]; then clean=(--clean); fi

signing=1
for name in APPLE_SIGNING_IDENTITY APPLE_INSTALLER_IDENTITY APPLE_ID APPLE_TEAM_ID APPLE_APP_PASSWORD; do
  if [ -z "${!name:-}" ]; then signing=0; echo "note: $name is not set"; fi
done
if [ "$signing" = 0 ]; then
  echo "==> NOT signing or notarizing: this build is for testing only (Gatekeeper refuses it elsewhere)"
  unset APPLE_SIGNING_IDENTITY  # the spec signs when it is set
fi

notarize() {  # notarize one file (a zip of the app, the dmg or the pkg) and wait for the verdict
  xcrun notarytool submit "$1" --apple-id "$APPLE_ID" --team-id "$APPLE_TEAM_ID" \
    --password "$APPLE_APP_PASSWORD" --wait
}

echo "==> building posdesk $VERSION for $ARCH (macOS $MACOSX_DEPLOYMENT_TARGET or newer)"
# With APPLE_SIGNING_IDENTITY set, PyInstaller signs every binary and then the bundle, with the hardened
# runtime and packaging/macos/entitlements.plist (the spec's codesign_identity and entitlements_file).
"$PYTHON" -m PyInstaller --noconfirm "${clean[@]}" --log-level WARN \
  --distpath "$DIST" --workpath "$WORK" "$ROOT/packaging/pyinstaller/posdesk.spec"

if [ "$signing" = 1 ]; then
  codesign --verify --deep --strict --verbose=2 "$APP"
fi

# The self-test runs the app as it ships: after signing, so a signature that breaks loading fails here.
echo "==> self-test"
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
QT_QPA_PLATFORM=offscreen POSDESK_DATA_DIR="$data" "$APP/Contents/MacOS/posdesk" --self-test

if [ "$signing" = 1 ]; then
  echo "==> notarizing and stapling posdesk.app"
  ditto -c -k --keepParent "$APP" "$WORK/posdesk-notarize.zip"
  notarize "$WORK/posdesk-notarize.zip"
  xcrun stapler staple "$APP"
  spctl --assess --type execute --verbose=2 "$APP"
fi

echo "==> making $DMG"
rm -f "$DMG"
staging=$(mktemp -d)
cp -R "$APP" "$staging/"
ln -s /Applications "$staging/Applications"   # drag-to-install
# hdiutil fails now and then with "Resource busy" while Spotlight or XProtect still holds the staging
# folder: try again a few times before giving up.
for attempt in 1 2 3 4 5; do
  if hdiutil create -volname "posdesk $VERSION" -srcfolder "$staging" -ov -format UDZO "$DMG" 2> "$WORK/hdiutil.err"; then
    break
  fi
  cat "$WORK/hdiutil.err" >&2
  if ! grep -q "Resource busy" "$WORK/hdiutil.err" || [ "$attempt" = 5 ]; then exit 1; fi
  echo "hdiutil: resource busy, trying again ($attempt/5)"; sleep $((attempt * 5))
done
rm -rf "$staging"

echo "==> making $PKG (installs posdesk.app into /Applications)"
if [ "$signing" = 1 ]; then
  productbuild --component "$APP" /Applications --sign "$APPLE_INSTALLER_IDENTITY" --timestamp "$PKG"
else
  productbuild --component "$APP" /Applications "$PKG"
fi

if [ "$signing" = 1 ]; then
  echo "==> signing, notarizing and stapling the disk image and the package"
  codesign --force --timestamp --sign "$APPLE_SIGNING_IDENTITY" "$DMG"
  notarize "$DMG"
  xcrun stapler staple "$DMG"
  spctl --assess --type open --context context:primary-signature --verbose=2 "$DMG"
  notarize "$PKG"
  xcrun stapler staple "$PKG"
  spctl --assess --type install --verbose=2 "$PKG"
fi
echo "built $DMG ($(du -sh "$DMG" | cut -f1)) and $PKG ($(du -sh "$PKG" | cut -f1))"
