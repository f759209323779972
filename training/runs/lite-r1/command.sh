#!/usr/bin/env bash
# The training run behind the shipped lite weights. Run from the repository root with
# fmsmi installed; running it again resumes from checkpoint.pt (the schedule is fixed
# by --samples at the first start).
set -euo pipefail
cd "$(dirname "$0")/../../.."
exec fmsmi train --model lite --out training/runs/lite-r1 --resume --no-progress \
  --clips ../shared/data/clips --gaps 1,2,3,4 --max-motion 64 --max-sprites 3 \
  --crop 128 --batch 8 --samples 600000 --lr 6e-4 --warmup 0.02 --clip-grad 1.0 \
  --checkpoint-minutes 10 --log-every 5000 "$@"
