#!/usr/bin/env bash
# Stage 6 of the lite weights: lite-r5 (lite-r4 with 1x1 kernel heads and a coarse GridNet
# up-block, refitted by least squares: training/runs/lite-r5/refit.py) fine-tuned so the
# rest of the network adapts to the refitted layers. Same data, gaps, hold-out and
# validation set as lite-r1..r4. Run from the repository root with fmsmi installed; running
# it again resumes from checkpoint.pt.
set -euo pipefail
cd "$(dirname "$0")/../../.."
exec fmsmi train --model lite --out training/runs/lite-r6 --resume --no-progress \
  --init training/runs/lite-r6/init-from-lite-r5.pt \
  --clips ../shared/data/clips --gaps 1,2,3,4 --max-motion 96 --max-sprites 3 \
  --crop 256 --batch 8 --samples 15000 --lr 1e-4 --warmup 0.02 --clip-grad 1.0 \
  --checkpoint-minutes 10 --log-every 2000 "$@"
