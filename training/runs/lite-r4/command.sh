#!/usr/bin/env bash
# Stage 4 of the lite weights: lite with motion pre-alignment (engine/network/motion.py).
# Continues lite-r3's export (init-from-lite-r3.pt: its tensors unchanged, its config given
# the motion stage, which has no parameters) so the network learns the aligned inputs:
# warped frames, the field's errors, residual motion instead of the whole motion. Same data,
# gaps, hold-out and validation set as lite-r1..r3, so their held-out PSNRs compare. Run
# from the repository root with fmsmi installed; running it again resumes from checkpoint.pt.
set -euo pipefail
cd "$(dirname "$0")/../../.."
exec fmsmi train --model lite --out training/runs/lite-r4 --resume --no-progress \
  --init training/runs/lite-r4/init-from-lite-r3.pt \
  --clips ../shared/data/clips --gaps 1,2,3,4 --max-motion 96 --max-sprites 3 \
  --crop 256 --batch 8 --samples 30000 --lr 2e-4 --warmup 0.02 --clip-grad 1.0 \
  --checkpoint-minutes 10 --log-every 2000 "$@"
