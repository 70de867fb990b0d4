# Build posdesk for Windows: the PyInstaller bundle, its self-test, then the Inno Setup installer.
#
#   powershell -File packaging\windows\build-windows.ps1   -> dist\posdesk-<version>-windows-setup.exe
#
# Needs Python with posdesk[dev] installed (or $env:PYTHON) and Inno Setup 6 (iscc.exe on PATH or in
# its default folder). Code signing: set $env:WINDOWS_SIGN_COMMAND to a signtool command line ending
# in the file to sign as $f, e.g.  signtool sign /fd sha256 /tr http://timestamp.digicert.com /td sha256 /a $f
# When it is unset the installer is built unsigned and a note says so (SmartScreen will warn).
$ErrorActionPreference = "Stop"
$Root = Resolve-Path (Join-Path $PSScriptRoot "..\..")
$Python = if ($env:PYTHON) { $env:PYTHON } else { "python" }
$Dist = if ($env:POSDESK_DIST_DIR) { $env:POSDESK_DIST_DIR } else { Join-Path $Root "dist" }
$Work = if ($env:POSDESK_WORK_DIR) { $env:POSDESK_WORK_DIR } else { Join-Path $Root "build" }
$Version = & $Python -c "import sys; sys.path.insert(0, r'$Root'); import posdesk; print(posdesk.__version__)"
if ($LASTEXITCODE -ne 0) { throw "cannot read posdesk.__version__" }

Write-Host "==> building posdesk $Version"
& $Python -m PyInstaller --noconfirm --clean --log-level WARN --distpath $Dist --workpath $Work `
    (Join-Path $Root "packaging\pyinstaller\posdesk.spec")
if ($LASTEXITCODE -ne 0) { throw "PyInstaller failed" }

Write-Host "==> self-test"
# The build is windowed (no console, no stdout): the exit code is the verdict, the log has the report.
$Data = Join-Path ([System.IO.Path]::GetTempPath()) ("posdesk-selftest-" + [guid]::NewGuid())
$env:QT_QPA_PLATFORM = "offscreen"
$env:POSDESK_DATA_DIR = $Data
$Exe = Join-Path $Dist "posdesk\posdesk.exe"
$Test = Start-Process -FilePath $Exe -ArgumentList "--self-test" -Wait -PassThru
Get-Content (Join-Path $Data "logs\posdesk.log") -ErrorAction SilentlyContinue |
    Select-String -SimpleMatch "posdesk.selftest"
Remove-Item Env:QT_QPA_PLATFORM, Env:POSDESK_DATA_DIR
if ($Test.ExitCode -ne 0) { throw "self-test failed with exit code $($Test.ExitCode)" }

if ($env:WINDOWS_SIGN_COMMAND) {
    Write-Host "==> signing posdesk.exe"
    $f = $Exe; Invoke-Expression $env:WINDOWS_SIGN_COMMAND
}

Write-Host "==> installer"
$Iscc = (Get-Command iscc.exe -ErrorAction SilentlyContinue).Source
if (-not $Iscc) { $Iscc = "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe" }
& $Iscc "/DAppVersion=$Version" "/DSourceDir=$(Join-Path $Dist 'posdesk')" "/DOutputDir=$Dist" `
    (Join-Path $Root "packaging\windows\posdesk.iss")
if ($LASTEXITCODE -ne 0) { throw "Inno Setup failed" }
$Setup = Join-Path $Dist "posdesk-$Version-windows-setup.exe"
if ($env:WINDOWS_SIGN_COMMAND) {
    Write-Host "==> signing the installer"
    $f = $Setup; Invoke-Expression $env:WINDOWS_SIGN_COMMAND
} else {
    Write-Host "note: WINDOWS_SIGN_COMMAND is not set: the installer is unsigned (SmartScreen will warn)"
}
Write-Host "built $Setup"
