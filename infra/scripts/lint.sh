#!/usr/bin/env bash
# `npm run lint:infra`: builds every Bicep file and runs the linter; any error or warning fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bicep="$(bash scripts/bicep.sh)"
"$bicep" --version
status=0
out="$(mktemp -d)"
for file in main.bicep modules/*.bicep; do
  log="$out/$(basename "$file").log"
  "$bicep" build "$file" --outdir "$out" >"$log" 2>&1 || status=1
  "$bicep" lint "$file" >>"$log" 2>&1 || status=1
  if grep -E "(Warning|Error) [A-Za-z0-9-]+:" "$log" >/dev/null; then status=1; fi
  if [ -s "$log" ]; then cat "$log"; fi
done
[ -f main.parameters.json ] && node -e 'JSON.parse(require("fs").readFileSync("main.parameters.json","utf8"))'
if [ "$status" -eq 0 ]; then echo "infra: every Bicep file builds and lints clean"; else echo "infra: Bicep errors or warnings above"; fi
exit "$status"
