#!/usr/bin/env bash
# Installs every Debian 12 package that passerelle's build, tests and demo need.
# Idempotent: packages already present are left as they are. Run as root (or via sudo).
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  librdkafka-dev libuv1-dev libmsgpack-dev libhiredis-dev
  libcsv-dev libinih-dev libsystemd-dev libcjson-dev libxxhash-dev
  libhttp-parser-dev
  libcmocka-dev
  redis-server kcat
  valgrind systemd
  clang clang-format
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The end-to-end test needs Node.js with npm; a machine may already have them from elsewhere
# (e.g. a nodesource build that bundles npm), in which case Debian's packages would conflict.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
