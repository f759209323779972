"""Training and evaluation of VFI_FMSMI (never imported by the engine or the player's runtime).

- :mod:`fmsmi.training.data`: triplet sources (video clips, Vimeo90K, synthetic motion), a
  weighted mix and a batch loader deterministic per batch index (so a resumed run sees the
  same batches as an uninterrupted one).
- :mod:`fmsmi.training.losses`: Charbonnier, plus an optional multi-scale term.
- :mod:`fmsmi.training.train`: the loop (AdamW, schedule tied to the planned samples,
  resumable checkpoints, JSONL log, curves, time budget, weight export).
- :mod:`fmsmi.training.metrics`, :mod:`fmsmi.training.evaluate`: PSNR/SSIM/IE on benchmark
  layouts through :class:`fmsmi.engine.Interpolator`, beside frame averaging.
"""
