#!/usr/bin/env bash
# System packages kennai needs beyond Python: a Japanese font for maps (IPAexGothic: TrueType, so
# matplotlib embeds it in PDFs as a CID subset; Chromium uses it for the web map's labels),
# poppler-utils (pdffonts/pdftoppm to check printed maps), Debian's Chromium for the browser
# tests, PostgreSQL + PostGIS (the shared place register; its tests start a throwaway server on
# loopback), and npm (only if the machine has none) to install MapLibre GL JS for the offline
# web map. Installs only what is missing; needs root (as on the project's machines).
set -euo pipefail
pkgs=(fonts-ipaexfont-gothic poppler-utils chromium postgresql postgresql-15-postgis-3)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "kennai setup: missing system packages: ${missing[*]} (run as root or install them: apt-get install -y ${missing[*]})" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
