"""The player window: GLFW + PyOpenGL, one or two letterboxed textured quads.

- Textures are RGBA8 and updated with ``glTexSubImage2D`` from HxWx4 uint8 arrays (RGBA
  rows are 4-byte aligned, the upload is a straight copy), or by a GPU frame object that
  knows how to write itself into the texture (``gpu_path``: CUDA-OpenGL interop, no trip
  through host memory).
- Each pane shows its texture on a quad (fixed-function OpenGL) or, where framebuffer
  objects exist (OpenGL 3.0+, the default), with a framebuffer blit of the texture: on
  Mesa's llvmpipe under Xvfb a 640x360 frame (upload, draw, swap) takes 2.3-2.7 ms blitted
  against 4.3-5.1 ms on a quad. ``FMSMI_GL_DRAW=quad|blit`` forces one.
- The picture keeps its aspect ratio inside the window (black bars), at any window size;
  at 1:1 it samples with GL_NEAREST so that the window shows the frame's exact pixels.
  The bars are cleared only when there are bars.
- Compare mode splits the window into two panes: original left, output right.
- No vsync (``swap_interval(0)``): the player paces frames itself from the clock.
- ``PYOPENGL_PLATFORM=osmesa`` selects GLFW's null platform with an OSMesa context:
  an offscreen window that works without any X server (tests, CI).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

from fmsmi.errors import ConfigError, FmsmiError

log = logging.getLogger(__name__)

DRAW_MODES = ("auto", "blit", "quad")


class DisplayError(FmsmiError):
    """No window can be opened here (no display server, no OpenGL)."""


def offscreen_requested() -> bool:
    return os.environ.get("PYOPENGL_PLATFORM", "").lower() == "osmesa"


def display_unavailable_reason() -> str | None:
    """None when a window can probably be opened, else why not (one line). Cheap: no GLFW init."""
    if offscreen_requested():
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return ("no display (DISPLAY and WAYLAND_DISPLAY are unset): run it in a desktop session, "
            "under `xvfb-run`, or offscreen with PYOPENGL_PLATFORM=osmesa")


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    width: int
    height: int


def letterbox(area: Rect, image_width: int, image_height: int, pixel_aspect: float = 1.0) -> Rect:
    """The largest rectangle of the image's display aspect centred in ``area``."""
    display_width = image_width * pixel_aspect
    scale = min(area.width / display_width, area.height / image_height)
    width = max(1, min(area.width, round(display_width * scale)))
    height = max(1, min(area.height, round(image_height * scale)))
    return Rect(area.x + (area.width - width) // 2, area.y + (area.height - height) // 2, width, height)


def panes(width: int, height: int, count: int) -> list[Rect]:
    """``count`` side-by-side areas splitting a width x height framebuffer."""
    edges = [round(i * width / count) for i in range(count + 1)]
    return [Rect(edges[i], 0, edges[i + 1] - edges[i], height) for i in range(count)]


class Texture:
    """An RGBA8 texture that remembers its size and what it holds (``key``)."""

    def __init__(self, gl):
        self.gl = gl
        self.id = gl.glGenTextures(1)
        self.width = self.height = 0
        self.key = None
        gl.glBindTexture(gl.GL_TEXTURE_2D, self.id)
        for parameter in (gl.GL_TEXTURE_WRAP_S, gl.GL_TEXTURE_WRAP_T):
            gl.glTexParameteri(gl.GL_TEXTURE_2D, parameter, gl.GL_CLAMP_TO_EDGE)

    def upload(self, image, key=None) -> None:
        gl = self.gl
        if not isinstance(image, np.ndarray):      # a GPU frame writes itself (gpu_path)
            image.to_texture(self)
            self.key = key
            return
        height, width = image.shape[:2]
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 4:
            raise ValueError(f"image: expected HxWx4 uint8 RGBA, got {image.shape} {image.dtype}")
        gl.glBindTexture(gl.GL_TEXTURE_2D, self.id)
        gl.glPixelStorei(gl.GL_UNPACK_ALIGNMENT, 4)
        if (width, height) != (self.width, self.height):
            self.allocate(width, height)
        gl.glTexSubImage2D(gl.GL_TEXTURE_2D, 0, 0, 0, width, height, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE,
                           np.ascontiguousarray(image))
        self.key = key

    def framebuffer(self) -> int:
        """A framebuffer object with this texture as its colour attachment (the blit source)."""
        gl = self.gl
        if getattr(self, "_framebuffer", None) is None:
            self._framebuffer = gl.glGenFramebuffers(1)
            gl.glBindFramebuffer(gl.GL_READ_FRAMEBUFFER, self._framebuffer)
            gl.glFramebufferTexture2D(gl.GL_READ_FRAMEBUFFER, gl.GL_COLOR_ATTACHMENT0, gl.GL_TEXTURE_2D, self.id, 0)
            gl.glBindFramebuffer(gl.GL_READ_FRAMEBUFFER, 0)
        return self._framebuffer

    def delete(self) -> None:
        if getattr(self, "_framebuffer", None) is not None:
            self.gl.glDeleteFramebuffers(1, [self._framebuffer])
        self.gl.glDeleteTextures([self.id])

    def allocate(self, width: int, height: int) -> None:
        gl = self.gl
        gl.glBindTexture(gl.GL_TEXTURE_2D, self.id)
        gl.glTexImage2D(gl.GL_TEXTURE_2D, 0, gl.GL_RGBA8, width, height, 0, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE, None)
        self.width, self.height = width, height
        if bool(gl.glGenFramebuffers):
            self.framebuffer()          # now, ahead of the first draw


class Window:
    """A GLFW window showing textures; every method runs on the main thread."""

    def __init__(self, width: int, height: int, title: str = "fmsmi", *, fullscreen: bool = False,
                 visible: bool = True, pixel_aspect: float = 1.0,
                 draw_mode: str | None = None):
        reason = display_unavailable_reason()
        if reason:
            raise DisplayError(reason)
        import glfw
        from OpenGL import GL
        self.glfw, self.gl = glfw, GL
        self.offscreen = offscreen_requested()
        self._errors: list[str] = []
        glfw.set_error_callback(lambda code, message: self._errors.append(
            message.decode(errors="replace") if isinstance(message, bytes) else str(message)))
        if self.offscreen:
            glfw.init_hint(glfw.PLATFORM, glfw.PLATFORM_NULL)
        if not glfw.init():
            raise DisplayError(f"cannot open a window: GLFW init failed ({self._last_error()})")
        glfw.default_window_hints()
        glfw.window_hint(glfw.VISIBLE, visible)
        glfw.window_hint(glfw.RESIZABLE, True)
        if self.offscreen:
            glfw.window_hint(glfw.CONTEXT_CREATION_API, glfw.OSMESA_CONTEXT_API)
        width, height = self._fit_to_screen(width, height)
        self.handle = glfw.create_window(width, height, title, None, None)
        if not self.handle:
            glfw.terminate()
            raise DisplayError(f"cannot open a {width}x{height} OpenGL window ({self._last_error()})")
        glfw.make_context_current(self.handle)
        glfw.swap_interval(0)
        self.pixel_aspect = pixel_aspect
        self.title = title
        self.textures: dict[str, Texture] = {}
        self.dirty = True                   # the window needs a redraw (resize, expose)
        self._windowed_geometry: tuple[int, int, int, int] | None = None
        glfw.set_framebuffer_size_callback(self.handle, self._on_resize)
        glfw.set_window_refresh_callback(self.handle, lambda window: self._mark_dirty())
        self.draw_mode = self._choose_draw_mode(draw_mode)
        if self.draw_mode == "blit":
            self._warm_up_blit()
        renderer = GL.glGetString(GL.GL_RENDERER)
        self.renderer = renderer.decode() if renderer else "unknown"
        log.info("window %dx%d, OpenGL renderer %s, drawing with %s", width, height, self.renderer,
                 self.draw_mode)
        if fullscreen:
            self.toggle_fullscreen()

    # -- setup helpers ---------------------------------------------------------------
    def _choose_draw_mode(self, mode: str | None) -> str:
        if mode is None:
            mode = os.environ.get("FMSMI_GL_DRAW", "auto")
        if mode not in DRAW_MODES:
            raise ConfigError(f"draw_mode={mode!r} (FMSMI_GL_DRAW): expected one of {list(DRAW_MODES)}")
        if mode == "auto":
            blit = bool(self.gl.glBlitFramebuffer) and bool(self.gl.glGenFramebuffers)
            return "blit" if blit else "quad"
        return mode

    def _last_error(self) -> str:
        return self._errors[-1] if self._errors else "no reason given"

    def _fit_to_screen(self, width: int, height: int) -> tuple[int, int]:
        glfw = self.glfw
        monitor = glfw.get_primary_monitor()
        if not monitor:
            return width, height
        _, _, area_width, area_height = glfw.get_monitor_workarea(monitor)
        if area_width <= 0 or area_height <= 0 or (width <= area_width and height <= area_height):
            return width, height
        scale = min(area_width / width, area_height / height)
        return max(1, int(width * scale)), max(1, int(height * scale))

    def _on_resize(self, window, width: int, height: int) -> None:
        if self.offscreen:      # OSMesa: the context must be made current again after a resize
            self.glfw.make_context_current(self.handle)
        self._mark_dirty()

    def _mark_dirty(self) -> None:
        self.dirty = True

    # -- state -----------------------------------------------------------------------
    @property
    def framebuffer_size(self) -> tuple[int, int]:
        return tuple(self.glfw.get_framebuffer_size(self.handle))

    @property
    def should_close(self) -> bool:
        return bool(self.glfw.window_should_close(self.handle))

    def request_close(self) -> None:
        self.glfw.set_window_should_close(self.handle, True)

    def set_title(self, title: str) -> None:
        if title != self.title:
            self.glfw.set_window_title(self.handle, title)
            self.title = title

    def set_key_callback(self, callback) -> None:
        self.glfw.set_key_callback(self.handle, callback)

    def poll(self) -> None:
        self.glfw.poll_events()

    @property
    def fullscreen(self) -> bool:
        return bool(self.glfw.get_window_monitor(self.handle))

    def toggle_fullscreen(self) -> None:
        glfw = self.glfw
        if self.fullscreen:
            x, y, width, height = self._windowed_geometry or (0, 0, 640, 360)
            glfw.set_window_monitor(self.handle, None, x, y, width, height, 0)
        else:
            monitor = glfw.get_primary_monitor()
            if not monitor:
                log.info("no monitor to go fullscreen on")
                return
            self._windowed_geometry = (*glfw.get_window_pos(self.handle), *glfw.get_window_size(self.handle))
            mode = glfw.get_video_mode(monitor)
            glfw.set_window_monitor(self.handle, monitor, 0, 0, mode.size.width, mode.size.height, mode.refresh_rate)
        if self.offscreen:
            glfw.make_context_current(self.handle)
        self.dirty = True

    # -- drawing ---------------------------------------------------------------------
    def texture(self, name: str) -> Texture:
        if name not in self.textures:
            self.textures[name] = Texture(self.gl)
        return self.textures[name]

    def upload(self, name: str, image, key=None) -> bool:
        """Put ``image`` (HxWx4 RGBA or a GPU frame) into texture ``name``; skipped (False)
        when the texture already holds ``key`` (not None)."""
        texture = self.texture(name)
        if key is not None and texture.key == key:
            return False
        texture.upload(image, key)
        return True

    def draw(self, names: list[str]) -> None:
        """Draw the named textures side by side, each letterboxed in its pane (black bars)."""
        gl = self.gl
        width, height = self.framebuffer_size
        if width <= 0 or height <= 0:       # minimised
            return
        layout = []
        for name, area in zip(names, panes(width, height, len(names))):
            texture = self.textures.get(name)
            if texture is not None and texture.width:
                layout.append((texture, area, letterbox(area, texture.width, texture.height, self.pixel_aspect)))
        if len(layout) < len(names) or any(rect != area for _, area, rect in layout):
            gl.glViewport(0, 0, width, height)
            gl.glClearColor(0.0, 0.0, 0.0, 1.0)
            gl.glClear(gl.GL_COLOR_BUFFER_BIT)  # the bars (skipped when the picture fills the window)
        for texture, _, rect in layout:
            exact = (rect.width, rect.height) == (texture.width, texture.height)
            sampling = gl.GL_NEAREST if exact else gl.GL_LINEAR
            if self.draw_mode == "blit":
                self._blit(texture, rect, sampling)
            else:
                self._quad(texture, rect, sampling)
        self.dirty = False

    def _warm_up_blit(self) -> None:
        """One blit of each filter before playback: Mesa compiles its blit shaders on first
        use (tens of ms), which would otherwise land on a frame's deadline."""
        gl = self.gl
        texture = Texture(gl)
        texture.upload(np.zeros((2, 2, 4), dtype=np.uint8))
        for sampling in (gl.GL_NEAREST, gl.GL_LINEAR):
            self._blit(texture, Rect(0, 0, 2, 2), sampling)
            self._blit(texture, Rect(0, 0, 3, 3), sampling)
        gl.glClear(gl.GL_COLOR_BUFFER_BIT)
        gl.glFinish()
        texture.delete()

    def _blit(self, texture: Texture, rect: Rect, sampling: int) -> None:
        """Copy (and scale) the texture into ``rect`` with a framebuffer blit, rows flipped."""
        gl = self.gl
        gl.glBindFramebuffer(gl.GL_READ_FRAMEBUFFER, texture.framebuffer())
        gl.glBlitFramebuffer(0, 0, texture.width, texture.height, rect.x, rect.y + rect.height,
                             rect.x + rect.width, rect.y, gl.GL_COLOR_BUFFER_BIT, sampling)
        gl.glBindFramebuffer(gl.GL_READ_FRAMEBUFFER, 0)

    def _quad(self, texture: Texture, rect: Rect, sampling: int) -> None:
        """Draw the texture on a quad filling ``rect`` (fixed-function OpenGL)."""
        gl = self.gl
        gl.glEnable(gl.GL_TEXTURE_2D)
        gl.glBindTexture(gl.GL_TEXTURE_2D, texture.id)
        gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_MIN_FILTER, sampling)
        gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_MAG_FILTER, sampling)
        gl.glViewport(rect.x, rect.y, rect.width, rect.height)
        gl.glBegin(gl.GL_QUADS)       # image row 0 is the top: t=0 at y=+1
        for s, t, x, y in ((0, 1, -1, -1), (1, 1, 1, -1), (1, 0, 1, 1), (0, 0, -1, 1)):
            gl.glTexCoord2f(s, t)
            gl.glVertex2f(x, y)
        gl.glEnd()
        gl.glDisable(gl.GL_TEXTURE_2D)

    def read_pixels(self) -> np.ndarray:
        """The back buffer (what the next ``swap`` shows) as HxWx3 uint8 RGB, top row first."""
        gl = self.gl
        width, height = self.framebuffer_size
        gl.glReadBuffer(gl.GL_BACK)
        gl.glPixelStorei(gl.GL_PACK_ALIGNMENT, 1)
        data = gl.glReadPixels(0, 0, width, height, gl.GL_RGB, gl.GL_UNSIGNED_BYTE)
        return np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)[::-1].copy()

    def swap(self) -> None:
        self.glfw.swap_buffers(self.handle)

    def finish(self) -> None:
        self.gl.glFinish()

    def close(self) -> None:
        if self.handle:
            for texture in self.textures.values():
                texture.delete()
            self.textures.clear()
            self.glfw.destroy_window(self.handle)
            self.handle = None
        self.glfw.terminate()
