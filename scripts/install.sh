#!/usr/bin/env bash
# Installs fmsmi and everything it needs on a fresh Debian/Ubuntu machine, into the active
# Python (use a virtual environment if you prefer: the script uses `python -m pip`).
#   bash scripts/install.sh          runtime only
#   bash scripts/install.sh --test   also the test and headless-display tools
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
WITH_TEST=0
[[ ${1:-} == --test ]] && WITH_TEST=1

apt_packages=(ffmpeg cmake g++)
if ((WITH_TEST)); then
  # Xvfb + Mesa (llvmpipe/OSMesa) for the player's window tests (DESIGN.md §4)
  apt_packages+=(xvfb xauth libgl1 libgl1-mesa-dri libegl1 libosmesa6 libxrandr2 libxcursor1 libxi6 libxinerama1)
fi
missing=()
for package in "${apt_packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  echo "installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The CPU build of PyTorch first: a plain `torch` requirement would pull a multi-GB CUDA build.
"$PYTHON" -c "import torch" 2>/dev/null || "$PYTHON" -m pip install -q "torch==2.13.0"
if ((WITH_TEST)); then
  "$PYTHON" -m pip install -q ".[test]"
else
  "$PYTHON" -m pip install -q .
fi
