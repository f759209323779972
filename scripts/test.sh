#!/usr/bin/env bash
# Installs fmsmi with its test tools and runs the whole test suite (this is what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --test
# The installed package must carry its native CPU library: a missing one fails the tests.
export FMSMI_REQUIRE_NATIVE=1
exec "${PYTHON:-python3}" -m pytest -q "$@"
