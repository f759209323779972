"""The live 2x player behind ``fmsmi play`` (DESIGN.md §4).

decode thread (``source``, ``pipeline``) -> interpolation thread (``pipeline.CpuStage`` or
``gpu_path.GpuStage``) -> present channel -> display loop on the main thread (``player``,
``display``), paced by ``clock`` (audio master via ``audio`` when there is sound) and the
``scheduler``'s deadlines; ``controls`` maps keys, ``stats`` and ``screenshot`` serve the
automation flags. Nothing here is imported when the CLI only builds its parser.
"""
