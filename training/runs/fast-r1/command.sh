#!/usr/bin/env bash
# Stage 1 of the fast weights: lite-r6's stem, encoder, decoder and full-resolution head
# (make_init.py) fine-tuned as the `fast` config, whose output is that one synthesis (no
# coarser scales, no GridNet), so the layers learn to do without the refinement. Same data,
# gaps, hold-out and validation set as the lite runs. Run from the repository root with
# fmsmi installed; running it again resumes from checkpoint.pt.
# `fast` had encoder levels 1/4 to 1/32 then (encoder_widths 16, 32, 48, 64): this command
# reproduces fast-r1 from a checkout of d021ed7 or earlier; fast-r2 (training/runs/fast-r2)
# dropped the two deepest levels and is today's `fast`.
set -euo pipefail
cd "$(dirname "$0")/../../.."
exec fmsmi train --model fast --out training/runs/fast-r1 --resume --no-progress \
  --init training/runs/fast-r1/init-from-lite-r6.pt \
  --clips ../shared/data/clips --gaps 1,2,3,4 --max-motion 96 --max-sprites 3 \
  --crop 256 --batch 8 --samples 20000 --lr 1e-4 --warmup 0.02 --clip-grad 1.0 \
  --checkpoint-minutes 10 --log-every 2000 "$@"
