# Build posdesk for Windows: the PyInstaller bundle, its self-test, then the Inno Setup installer.
#
#   powershell -File packaging\windows\build-windows.ps1                    everything, unsigned
#   powershell -File packaging\windows\build-windows.ps1 -Stage bundle      the bundle only (CI signs it next)
#   powershell -File packaging\windows\build-windows.ps1 -Stage installer   self-test the (signed) bundle,
#                                                                           then the installer
#   -> dist\posdesk\posdesk.exe, posdesk-cli.exe; dist\posdesk-<version>-windows-setup.exe
#
# Needs Python with posdesk[pos] and PyInstaller (packaging/requirements-build.txt, hashed) and Inno
# Setup 6 (iscc.exe on PATH or in its default folder).
#
# Signing (docs/release.md): code-signing keys live in hardware modules since 2023, so posdesk signs
# through Azure Trusted Signing. The release workflow signs the bundle's .exe files with
# azure/trusted-signing-action; this script then has Inno Setup sign the uninstaller and the installer
# (SignTool= + SignedUninstaller=yes) through the TrustedSigning PowerShell module the action installed,
# when POSDESK_SIGN=1 and TRUSTED_SIGNING_ENDPOINT, TRUSTED_SIGNING_ACCOUNT, TRUSTED_SIGNING_PROFILE and
# the AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET credentials are set.
param([ValidateSet("all", "bundle", "installer")] [string] $Stage = "all")
$ErrorActionPreference = "Stop"
$Root = Resolve-Path (Join-Path $PSScriptRoot "..\..")
$Python = if ($env:PYTHON) { $env:PYTHON } else { "python" }
$Dist = if ($env:POSDESK_DIST_DIR) { $env:POSDESK_DIST_DIR } else { Join-Path $Root "dist" }
$Work = if ($env:POSDESK_WORK_DIR) { $env:POSDESK_WORK_DIR } else { Join-Path $Root "build" }
$Version = & $Python -c "import sys; sys.path.insert(0, r'$Root'); import posdesk; print(posdesk.__version__)"
if ($LASTEXITCODE -ne 0) { throw "cannot read posdesk.__version__" }
$Sign = $env:POSDESK_SIGN -eq "1"

function Invoke-SelfTest {
    # posdesk-cli.exe is the console build: the report is printed, and the exit code is the verdict.
    Write-Host "==> self-test"
    $Data = Join-Path ([System.IO.Path]::GetTempPath()) ("posdesk-selftest-" + [guid]::NewGuid())
    $env:POSDESK_DATA_DIR = $Data
    & (Join-Path $Dist "posdesk\posdesk-cli.exe") --self-test
    $Code = $LASTEXITCODE
    # The windowed posdesk.exe too: no stdout, so the exit code and logs\console.txt tell.
    $Windowed = Start-Process -FilePath (Join-Path $Dist "posdesk\posdesk.exe") -ArgumentList "--self-test" -Wait -PassThru
    Get-Content (Join-Path $Data "logs\console.txt") -ErrorAction SilentlyContinue
    Remove-Item Env:POSDESK_DATA_DIR
    if ($Code -ne 0) { throw "posdesk-cli.exe --self-test failed with exit code $Code" }
    if ($Windowed.ExitCode -ne 0) { throw "posdesk.exe --self-test failed with exit code $($Windowed.ExitCode)" }
}

function Find-SignTool {
    # Not on PATH on windows-latest: take the newest x64 signtool.exe of the installed Windows SDKs.
    $Kits = "${env:ProgramFiles(x86)}\Windows Kits\10\bin"
    $Found = Get-ChildItem -Path $Kits -Filter signtool.exe -Recurse -ErrorAction SilentlyContinue |
        Where-Object { $_.FullName -match "\\x64\\" } | Sort-Object FullName -Descending | Select-Object -First 1
    if (-not $Found) { throw "signtool.exe not found under $Kits" }
    return $Found.FullName
}

if ($Stage -in "all", "bundle") {
    Write-Host "==> building posdesk $Version"
    & $Python -m PyInstaller --noconfirm --clean --log-level WARN --distpath $Dist --workpath $Work `
        (Join-Path $Root "packaging\pyinstaller\posdesk.spec")
    if ($LASTEXITCODE -ne 0) { throw "PyInstaller failed" }
    if ($Stage -eq "bundle") { Write-Host "built $Dist\posdesk (not yet self-tested: sign it, then -Stage installer)"; exit 0 }
}

# The self-test runs on the files that ship: after signing, so a signature that breaks loading shows here.
Invoke-SelfTest

Write-Host "==> installer"
$Iscc = (Get-Command iscc.exe -ErrorAction SilentlyContinue).Source
if (-not $Iscc) { $Iscc = "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe" }
$IsccArgs = @("/DAppVersion=$Version", "/DSourceDir=$(Join-Path $Dist 'posdesk')", "/DOutputDir=$Dist")
if ($Sign) {
    foreach ($Name in "TRUSTED_SIGNING_ENDPOINT", "TRUSTED_SIGNING_ACCOUNT", "TRUSTED_SIGNING_PROFILE") {
        if (-not (Get-Item "Env:$Name" -ErrorAction SilentlyContinue)) { throw "POSDESK_SIGN=1 but $Name is not set" }
    }
    # Inno Setup runs this for the uninstaller and the installer, $f replaced by the file.
    $Command = "powershell.exe -NoProfile -Command Invoke-TrustedSigning -Endpoint $env:TRUSTED_SIGNING_ENDPOINT " +
        "-CodeSigningAccountName $env:TRUSTED_SIGNING_ACCOUNT -CertificateProfileName $env:TRUSTED_SIGNING_PROFILE " +
        "-FileDigest SHA256 -TimestampRfc3161 http://timestamp.acs.microsoft.com -TimestampDigest SHA256 -Files `$f"
    $IsccArgs += @("/DSign", "/Strustedsigning=$Command")
} else {
    Write-Host "note: POSDESK_SIGN is not 1: the installer and uninstaller are unsigned (SmartScreen will warn)"
}
& $Iscc @IsccArgs (Join-Path $Root "packaging\windows\posdesk.iss")
if ($LASTEXITCODE -ne 0) { throw "Inno Setup failed" }
$Setup = Join-Path $Dist "posdesk-$Version-windows-setup.exe"

if ($Sign) {
    Write-Host "==> verifying signatures"
    $SignTool = Find-SignTool
    foreach ($File in $Setup, (Join-Path $Dist "posdesk\posdesk.exe"), (Join-Path $Dist "posdesk\posdesk-cli.exe")) {
        & $SignTool verify /pa /v $File
        if ($LASTEXITCODE -ne 0) { throw "signtool verify failed for $File" }
    }
}
Write-Host "built $Setup"
