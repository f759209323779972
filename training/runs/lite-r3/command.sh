#!/usr/bin/env bash
# Stage 3 of the lite weights: continues the shipped lite-r2 export (init-from-lite-r2.pt
# here) on 256x256 crops with a longer annealed schedule (80k samples, cosine from 2e-4 to
# 2 %), spread over sessions. Same data, gaps, hold-out and validation set as lite-r1 and
# lite-r2, so the three runs' held-out-clip PSNRs compare. Run from the repository root with
# fmsmi installed; running it again resumes from checkpoint.pt.
set -euo pipefail
cd "$(dirname "$0")/../../.."
exec fmsmi train --model lite --out training/runs/lite-r3 --resume --no-progress \
  --init training/runs/lite-r3/init-from-lite-r2.pt \
  --clips ../shared/data/clips --gaps 1,2,3,4 --max-motion 96 --max-sprites 3 \
  --crop 256 --batch 8 --samples 80000 --lr 2e-4 --warmup 0.02 --clip-grad 1.0 \
  --checkpoint-minutes 10 --log-every 4000 "$@"
