"""An OpenGL-capable display for the player tests: a private Xvfb, else offscreen OSMesa.

``open_display()`` returns ``(kind, stop)`` after setting the environment of this process;
``stop()`` puts ``DISPLAY`` and ``PYOPENGL_PLATFORM`` back as they were, so other test
modules see the environment they had:

- ``"xvfb"``: starts ``Xvfb`` on a free display number (``-displayfd``) with a 1280x720
  screen and sets ``DISPLAY``; Mesa's llvmpipe gives a real GLX window and exact
  ``glReadPixels``. ``stop()`` ends that Xvfb.
- ``"osmesa"``: no Xvfb but libOSMesa exists: sets ``PYOPENGL_PLATFORM=osmesa`` (GLFW's null
  platform with an OSMesa context, no X server at all).
- neither: ``pytest.skip`` with the reason and the packages to install.

``FMSMI_TEST_DISPLAY=xvfb`` or ``=osmesa`` forces one of the two. Either must be chosen
before PyOpenGL is first imported in the process (it picks its
platform on import), so the tests call this from a session fixture before anything else
touches OpenGL.
"""

from __future__ import annotations

import ctypes.util
import os
import shutil
import subprocess

import pytest

INSTALL = ("apt-get install -y xvfb xauth libgl1 libgl1-mesa-dri libegl1 libosmesa6 libxrandr2 libxcursor1 "
           "libxi6 libxinerama1")


def _start_xvfb() -> tuple[str, subprocess.Popen]:
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x720x24", "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as pipe:
            number = pipe.readline().strip().decode()
    except OSError:
        number = ""
    if not number:
        process.kill()
        process.wait()
        raise RuntimeError("Xvfb did not report a display number")
    return f":{number}", process


DISPLAY_VARIABLES = ("DISPLAY", "PYOPENGL_PLATFORM")


def _restore(saved: dict[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def open_display():
    """See the module docstring."""
    saved = {name: os.environ.get(name) for name in DISPLAY_VARIABLES}
    forced = os.environ.get("FMSMI_TEST_DISPLAY", "")
    if forced not in ("", "xvfb", "osmesa"):
        raise ValueError(f"FMSMI_TEST_DISPLAY={forced!r}: expected 'xvfb' or 'osmesa'")
    if forced != "osmesa" and shutil.which("Xvfb"):
        try:
            display, process = _start_xvfb()
        except (OSError, RuntimeError) as exc:
            pytest.skip(f"Xvfb did not start ({exc})")
        os.environ["DISPLAY"] = display
        os.environ.pop("PYOPENGL_PLATFORM", None)

        def stop() -> None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            _restore(saved)

        return "xvfb", stop
    if forced != "xvfb" and ctypes.util.find_library("OSMesa"):
        os.environ["PYOPENGL_PLATFORM"] = "osmesa"
        return "osmesa", lambda: _restore(saved)
    pytest.skip(f"needs Xvfb or OSMesa for an OpenGL window: {INSTALL}")
