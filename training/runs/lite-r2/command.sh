#!/usr/bin/env bash
# Stage 2 of the lite weights: fine-tunes run lite-r1 (stopped at 74,200 samples of crop 128;
# its weights are init-from-lite-r1-74k.pt here) on 256x256 crops, where larger motions and
# more context fit in a sample, with a schedule short enough (40k samples, cosine to 2 % of
# the peak) to end annealed within a session. Same data, gaps, hold-out and validation set as lite-r1, so
# the validation PSNRs of the two runs compare. Run from the repository root with fmsmi
# installed; running it again resumes from checkpoint.pt.
set -euo pipefail
cd "$(dirname "$0")/../../.."
exec fmsmi train --model lite --out training/runs/lite-r2 --resume --no-progress \
  --init training/runs/lite-r2/init-from-lite-r1-74k.pt \
  --clips ../shared/data/clips --gaps 1,2,3,4 --max-motion 96 --max-sprites 3 \
  --crop 256 --batch 8 --samples 40000 --lr 3e-4 --warmup 0.02 --clip-grad 1.0 \
  --checkpoint-minutes 10 --log-every 2000 "$@"
