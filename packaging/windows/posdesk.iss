; Inno Setup script for the posdesk POS on Windows terminals.
;
; Per-machine install into Program Files (needs an administrator), a Start-menu entry, an optional
; desktop icon, and an uninstaller (Settings > Apps). The cashier's data (the local database, logs,
; crash reports) lives in the user's profile (%LOCALAPPDATA%\posdesk) and is deliberately left in place
; by the uninstaller: removing the program must never remove unsent tickets.
;
; Build (packaging/windows/build-windows.ps1 does all of this):
;   pyinstaller --noconfirm --clean packaging\pyinstaller\posdesk.spec
;   iscc /DAppVersion=<posdesk.__version__> packaging\windows\posdesk.iss
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
