#!/usr/bin/env bash
# Build posdesk.app with the PyInstaller spec, self-test it, sign and notarize it (when the signing
# variables are set), and wrap it in a .dmg.
#
#   packaging/macos/build-dmg.sh      -> dist/posdesk-<version>-macos.dmg
#
# Signing and notarization (all four set, or the steps are skipped with a message saying so):
#   APPLE_SIGNING_IDENTITY  "Developer ID Application: Your Company (TEAMID)", in the login or CI keychain
#   APPLE_ID                the Apple ID that notarizes (an App Store Connect user)
#   APPLE_TEAM_ID           the 10-character team id
#   APPLE_APP_PASSWORD      an app-specific password for APPLE_ID (appleid.apple.com > Sign-In and Security)
# Optional: PYTHON, POSDESK_DIST_DIR (default dist), POSDESK_WORK_DIR (default build),
#           POSDESK_CLEAN_BUILD=0 to reuse PyInstaller's caches.
# An unsigned build runs on the machine that built it; on other Macs Gatekeeper refuses it
# (right-click > Open once to allow). Ship only signed and notarized builds to stores.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PYTHON=${PYTHON:-python3}
if [ -x "$ROOT/.venv/bin/python" ] && [ "$PYTHON" = python3 ]; then PYTHON="$ROOT/.venv/bin/python"; fi
DIST=${POSDESK_DIST_DIR:-$ROOT/dist}
WORK=${POSDESK_WORK_DIR:-$ROOT/build}
VERSION=$("$PYTHON" -c "import sys; sys.path.insert(0, '$ROOT'); import posdesk; print(posdesk.__version__)")
APP="$DIST/posdesk.app"
DMG="$DIST/posdesk-$VERSION-macos.dmg"
ENTITLEMENTS="$ROOT/packaging/macos/entitlements.plist"
clean=()
if [ "${POSDESK_CLEAN_BUILD:-1}" = 1 ]; then clean=(--clean); fi

echo "==> building posdesk $VERSION"
"$PYTHON" -m PyInstaller --noconfirm "${clean[@]}" --log-level WARN \
  --distpath "$DIST" --workpath "$WORK" "$ROOT/packaging/pyinstaller/posdesk.spec"

echo "==> self-test"
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
QT_QPA_PLATFORM=offscreen POSDESK_DATA_DIR="$data" "$APP/Contents/MacOS/posdesk" --self-test

signing=1
for name in APPLE_SIGNING_IDENTITY APPLE_ID APPLE_TEAM_ID APPLE_APP_PASSWORD; do
  if [ -z "${!name:-}" ]; then signing=0; echo "note: $name is not set"; fi
done

if [ "$signing" = 1 ]; then
  echo "==> signing posdesk.app as $APPLE_SIGNING_IDENTITY (hardened runtime)"
  # Every Mach-O inside first, then the bundle: --deep is deprecated and misses nothing only by luck.
  find "$APP/Contents" -type f \( -name "*.so" -o -name "*.dylib" -o -perm -u+x \) -print0 |
    while IFS= read -r -d '' file; do
      if file "$file" | grep -q "Mach-O"; then
        codesign --force --timestamp --options runtime --entitlements "$ENTITLEMENTS" \
          --sign "$APPLE_SIGNING_IDENTITY" "$file"
      fi
    done
  codesign --force --timestamp --options runtime --entitlements "$ENTITLEMENTS" \
    --sign "$APPLE_SIGNING_IDENTITY" "$APP"
  codesign --verify --strict --verbose=2 "$APP"
else
  echo "==> NOT signing: set APPLE_SIGNING_IDENTITY, APPLE_ID, APPLE_TEAM_ID and APPLE_APP_PASSWORD" \
       "to sign and notarize (see docs/deploy.md). This build is for testing only."
fi

echo "==> making $DMG"
rm -f "$DMG"
staging=$(mktemp -d)
cp -R "$APP" "$staging/"
ln -s /Applications "$staging/Applications"   # drag-to-install
hdiutil create -volname "posdesk $VERSION" -srcfolder "$staging" -ov -format UDZO "$DMG"
rm -rf "$staging"

if [ "$signing" = 1 ]; then
  echo "==> signing and notarizing the disk image"
  codesign --force --timestamp --sign "$APPLE_SIGNING_IDENTITY" "$DMG"
  xcrun notarytool submit "$DMG" --apple-id "$APPLE_ID" --team-id "$APPLE_TEAM_ID" \
    --password "$APPLE_APP_PASSWORD" --wait
  xcrun stapler staple "$DMG"
  spctl --assess --type open --context context:primary-signature --verbose=2 "$DMG"
else
  echo "==> NOT notarizing (signing variables unset)"
fi
echo "built $DMG ($(du -sh "$DMG" | cut -f1))"
