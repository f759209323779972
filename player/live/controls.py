"""Keyboard controls: GLFW key events -> player actions.

    space       pause / resume
    left/right  seek -5 s / +5 s
    down/up     seek -60 s / +60 s
    f           fullscreen on/off
    i           interpolation on/off (2x <-> source rate)
    c           compare: original left, interpolated right
    s           screenshot (PNG in the current folder)
    q, Esc      quit

:meth:`Controls.on_key` has GLFW's key-callback signature, so tests (or any other front
end) drive the player by calling it with GLFW key codes. Seeks repeat while the key is
held; the other keys act on press only.
"""

from __future__ import annotations

from typing import Protocol

import glfw

SEEK_SHORT = 5.0
SEEK_LONG = 60.0


class PlayerActions(Protocol):
    def toggle_pause(self) -> None: ...
    def seek_relative(self, seconds: float) -> None: ...
    def toggle_fullscreen(self) -> None: ...
    def toggle_interpolation(self) -> None: ...
    def toggle_compare(self) -> None: ...
    def screenshot(self) -> None: ...
    def quit(self) -> None: ...


# key -> (method name, arguments, repeats while held)
KEYMAP: dict[int, tuple[str, tuple, bool]] = {
    glfw.KEY_SPACE: ("toggle_pause", (), False),
    glfw.KEY_LEFT: ("seek_relative", (-SEEK_SHORT,), True),
    glfw.KEY_RIGHT: ("seek_relative", (SEEK_SHORT,), True),
    glfw.KEY_DOWN: ("seek_relative", (-SEEK_LONG,), True),
    glfw.KEY_UP: ("seek_relative", (SEEK_LONG,), True),
    glfw.KEY_F: ("toggle_fullscreen", (), False),
    glfw.KEY_I: ("toggle_interpolation", (), False),
    glfw.KEY_C: ("toggle_compare", (), False),
    glfw.KEY_S: ("screenshot", (), False),
    glfw.KEY_Q: ("quit", (), False),
    glfw.KEY_ESCAPE: ("quit", (), False),
}

HELP = ("space pause · ←/→ ±5 s · ↓/↑ ±60 s · f fullscreen · i interpolation · c compare · "
        "s screenshot · q/Esc quit")


class Controls:
    """Dispatches key events to ``actions``; returns the action's name (or None) for tests."""

    def __init__(self, actions: PlayerActions):
        self.actions = actions

    def on_key(self, window, key: int, scancode: int, action: int, mods: int) -> str | None:
        binding = KEYMAP.get(key)
        if binding is None:
            return None
        name, arguments, repeats = binding
        if action == glfw.PRESS or (repeats and action == glfw.REPEAT):
            getattr(self.actions, name)(*arguments)
            return name
        return None
