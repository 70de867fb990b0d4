; Inno Setup script for the posdesk POS on Windows terminals.
;
; Per-machine install into Program Files (needs an administrator), a Start-menu entry, an optional
; desktop icon, and an uninstaller (Settings > Apps). The cashier's data (the local database, logs,
; crash reports) lives in each Windows user's profile (%LOCALAPPDATA%\posdesk), as does the terminal's
; credential (Windows Credential Manager): deliberately per user, so on a terminal shared by several
; Windows accounts each account pairs and keeps its own tickets (docs/release.md). The uninstaller
; leaves that data in place: removing the program must never remove unsent tickets.
;
; Silent install (Intune, SCCM, GPO scripts), e.g.
;   posdesk-<version>-windows-setup.exe /VERYSILENT /SUPPRESSMSGBOXES /NORESTART /CLOSEAPPLICATIONS /LOG="C:\Windows\Temp\posdesk-setup.log"
; Detection: posdesk.exe's file version (its version resource), or the uninstall key named after AppId.
;
; Build (packaging/windows/build-windows.ps1 does all of this):
;   pyinstaller --noconfirm --clean packaging\pyinstaller\posdesk.spec
;   iscc /DAppVersion=<posdesk.__version__> packaging\windows\posdesk.iss
; Signed: iscc /DSign "/Strustedsigning=<a command signing $f>" ... (the script passes Azure Trusted
; Signing's); the installer and its uninstaller are then both signed.
; The version comes from posdesk/__init__.py (the one source of truth); it is never written here.

#ifndef AppVersion
  #error Pass the version: iscc /DAppVersion=1.2.3 posdesk.iss (from posdesk.__version__)
#endif
#ifndef SourceDir
  #define SourceDir "..\..\dist\posdesk"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\dist"
#endif
#define AppName "posdesk"
#define AppPublisher "posdesk"
#define AppExe "posdesk.exe"

[Setup]
; A fixed AppId: upgrades replace the previous install instead of adding a second one. Never change it.
AppId={{6E0B7C1A-4F3D-4C8E-9B1D-2A7F5E3C9D41}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher={#AppPublisher}
VersionInfoVersion={#AppVersion}
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=admin
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir={#OutputDir}
OutputBaseFilename=posdesk-{#AppVersion}-windows-setup
SetupIconFile=..\icons\posdesk.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName} {#AppVersion}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
#ifdef Sign
; Signs the installer and, with SignedUninstaller, the uninstaller it writes (unins000.exe): an unsigned
; uninstaller is what SmartScreen and application control policies stop.
SignTool=trustedsigning
SignedUninstaller=yes
#endif
; A running posdesk holds its DLLs open: ask to close it rather than fail half way.
CloseApplications=yes
RestartApplications=no

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"
Name: "spanish"; MessagesFile: "compiler:Languages\Spanish.isl"
Name: "french"; MessagesFile: "compiler:Languages\French.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
; The whole one-folder PyInstaller build. Replaced wholesale on upgrade (no stale DLLs left behind).
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{app}"
Name: "{group}\{cm:UninstallProgram,{#AppName}}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{app}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent runasoriginaluser
