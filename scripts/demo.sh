#!/usr/bin/env bash
# Installs fmsmi and runs the main job: the bundled sample clip at 2x on the embedded CPU
# engine, in a window when a display exists, written to sample_2x.mp4 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec fmsmi demo "$@"
