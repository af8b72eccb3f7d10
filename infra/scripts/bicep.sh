#!/usr/bin/env bash
# Prints the path of a Bicep CLI: the one on PATH, else the NuGet package Azure.Bicep.CommandLine.linux-x64
# restored with the .NET SDK (this machine reaches NuGet, not the Bicep release downloads).
set -euo pipefail
if command -v bicep >/dev/null 2>&1; then command -v bicep; exit 0; fi
here="$(cd "$(dirname "$0")" && pwd)"
version="$(sed -n 's/.*Azure.Bicep.CommandLine.linux-x64" Version="\[\(.*\)\]".*/\1/p' "$here/../tools/bicep.csproj")"
root="${NUGET_PACKAGES:-$HOME/.nuget/packages}/azure.bicep.commandline.linux-x64/$version/tools"
if [ ! -x "$root/bicep" ]; then
  dotnet restore "$here/../tools/bicep.csproj" --verbosity quiet >&2
  chmod +x "$root/bicep"
fi
echo "$root/bicep"
