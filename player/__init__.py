"""The player and the tools built on the engine: decode, display, file export, benchmark, CLI."""
