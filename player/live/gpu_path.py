"""The GPU path: frames stay on the GPU from upload to texture (TensorRT or PyTorch-CUDA).

Imported only where :func:`unavailable_reason` returns None (CUDA visible to PyTorch,
pycuda with its OpenGL module importable); elsewhere the player uses ``CpuStage`` and logs
the one-line reason. It cannot run on a machine without an NVIDIA GPU, so it is exercised
only on one.

Per pair, in the interpolation thread (PyTorch's CUDA streams; the primary context):

    upload stream     pinned host buffer -> device (non_blocking), uint8 HWC -> float NCHW
                      record ``uploaded``
    inference stream  wait ``uploaded``; Interpolator.interpolate_tensor (TensorRT engine or
                      the PyTorch network); record ``inferred``
    output stream     wait ``inferred``; float NCHW -> uint8 RGBA HWC (a fresh buffer per frame);
                      record ``ready``

Each source frame is uploaded once: frame1 of a pair is frame0 of the next. Pinned host
buffers are a ring; a slot is reused only after its copy's event has completed.

On the main thread, :meth:`GpuFrame.to_texture` maps the texture's pixel-unpack buffer
(a PBO registered with CUDA through ``pycuda.gl``), copies the RGBA frame device-to-device
into it on the output stream after ``ready``, unmaps, and ``glTexSubImage2D`` sources the
PBO: the interpolated frame never passes through host memory.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import time

import numpy as np

log = logging.getLogger(__name__)

PINNED_SLOTS = 4


def unavailable_reason() -> str | None:
    """None when the GPU path can run here, else why not (one line)."""
    for module in ("torch", "pycuda"):
        if importlib.util.find_spec(module) is None:
            return f"{module} not installed"
    import torch
    if not torch.cuda.is_available():
        return "no CUDA device visible to PyTorch"
    try:
        import pycuda.driver  # noqa: F401
        import pycuda.gl  # noqa: F401
    except Exception as exc:   # ImportError, or pycuda's own errors without libcuda
        return f"pycuda cannot load ({type(exc).__name__}: {exc})"
    return None


class _Interop:
    """Main-thread CUDA-OpenGL state: the primary context and one registered PBO per texture."""

    def __init__(self):
        import pycuda.driver as driver
        driver.init()
        self.driver = driver
        import torch
        self.context = driver.Device(torch.cuda.current_device()).retain_primary_context()
        self.context.push()
        self.buffers: dict[int, tuple[int, object, int]] = {}     # texture id -> (pbo, registered, bytes)

    def buffer_for(self, texture, nbytes: int):
        import pycuda.gl as cuda_gl
        gl = texture.gl
        entry = self.buffers.get(texture.id)
        if entry is None or entry[2] != nbytes:
            if entry is not None:
                entry[1].unregister()
                gl.glDeleteBuffers(1, [entry[0]])
            pbo = int(gl.glGenBuffers(1))
            gl.glBindBuffer(gl.GL_PIXEL_UNPACK_BUFFER, pbo)
            gl.glBufferData(gl.GL_PIXEL_UNPACK_BUFFER, nbytes, None, gl.GL_STREAM_DRAW)
            gl.glBindBuffer(gl.GL_PIXEL_UNPACK_BUFFER, 0)
            registered = cuda_gl.RegisteredBuffer(pbo, cuda_gl.graphics_map_flags.WRITE_DISCARD)
            entry = (pbo, registered, nbytes)
            self.buffers[texture.id] = entry
        return entry


class _DevicePointer:
    """Exposes a raw device pointer to PyTorch through ``__cuda_array_interface__``."""

    def __init__(self, pointer: int, shape: tuple[int, ...]):
        self.__cuda_array_interface__ = {"shape": shape, "typestr": "|u1", "data": (pointer, False),
                                         "version": 3, "strides": None}


class GpuFrame:
    """An RGBA frame in device memory, ready after ``event``; writes itself into a texture."""

    interop: _Interop | None = None

    def __init__(self, rgba, event, stream):
        self.rgba, self.event, self.stream = rgba, event, stream
        self.shape = tuple(rgba.shape)

    def to_texture(self, texture) -> None:
        import torch
        gl = texture.gl
        height, width = self.shape[:2]
        if (texture.width, texture.height) != (width, height):
            texture.allocate(width, height)
        if GpuFrame.interop is None:
            GpuFrame.interop = _Interop()
        pbo, registered, _ = GpuFrame.interop.buffer_for(texture, height * width * 4)
        mapping = registered.map()
        try:
            pointer, _size = mapping.device_ptr_and_size()
            target = torch.as_tensor(_DevicePointer(int(pointer), self.shape), device="cuda")
            with torch.cuda.stream(self.stream):
                self.stream.wait_event(self.event)
                target.copy_(self.rgba, non_blocking=True)
            self.stream.synchronize()          # the copy must land before the PBO is unmapped
        finally:
            mapping.unmap()
        gl.glBindTexture(gl.GL_TEXTURE_2D, texture.id)
        gl.glBindBuffer(gl.GL_PIXEL_UNPACK_BUFFER, pbo)
        gl.glTexSubImage2D(gl.GL_TEXTURE_2D, 0, 0, 0, width, height, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE,
                           ctypes.c_void_p(0))
        gl.glBindBuffer(gl.GL_PIXEL_UNPACK_BUFFER, 0)


class _TensorRTOnDevice:
    """Runs the TensorRT backend's engine on device tensors, on the caller's stream.

    ``fmsmi.engine.backends.trt.TensorRTRunner`` takes and returns host tensors (its own
    pinned buffers and streams). The live GPU path keeps frames on the device, so this
    adapter drives the runner's execution context directly with PyTorch CUDA buffers
    (both use the device's primary CUDA context). It relies on the runner's
    ``_execution``, ``_in_dtype``, ``_out_dtype``, ``_lock`` and ``_context()``: a
    device-pointer entry point on the runner would replace them.
    """

    def __init__(self, runner, multiple: int):
        import torch
        from fmsmi.engine.backends import trt as trt_backend
        self.torch, self.runner, self.multiple = torch, runner, multiple
        self.inputs, self.output = trt_backend.INPUT_NAMES, trt_backend.OUTPUT_NAME
        self.in_dtype = torch.float16 if np.dtype(runner._in_dtype) == np.float16 else torch.float32
        self.out_dtype = torch.float16 if np.dtype(runner._out_dtype) == np.float16 else torch.float32

    def __call__(self, frame0, frame1, stream):
        from fmsmi.engine.frames import pad_to_multiple
        torch = self.torch
        height, width = frame0.shape[-2:]
        inputs = [pad_to_multiple(frame, self.multiple).to(self.in_dtype).contiguous() for frame in (frame0, frame1)]
        shape = tuple(inputs[0].shape)
        output = torch.empty(shape, dtype=self.out_dtype, device=frame0.device)
        with self.runner._lock, self.runner._context():
            execution = self.runner._execution
            for name, tensor in zip(self.inputs, inputs):
                execution.set_input_shape(name, shape)
                execution.set_tensor_address(name, tensor.data_ptr())
            execution.set_tensor_address(self.output, output.data_ptr())
            if not execution.execute_async_v3(stream.cuda_stream):
                raise RuntimeError(f"TensorRT execute_async_v3 failed for {width}x{height}")
        return output[..., :height, :width].float()


class GpuStage:
    """The interpolation stage of the GPU path (a ``pipeline.MiddleFrame``)."""

    def __init__(self, interpolator, stats):
        import torch
        self.torch = torch
        self.stats = stats
        self.device = torch.device("cuda", torch.cuda.current_device())
        if interpolator.backend == "trt":
            self._infer = _TensorRTOnDevice(interpolator.runner, interpolator.config.multiple)
        else:                                   # the PyTorch network on CUDA: the current stream
            self._infer = lambda frame0, frame1, stream: interpolator.interpolate_tensor(frame0, frame1)
        self.upload_stream = torch.cuda.Stream(self.device)
        self.inference_stream = torch.cuda.Stream(self.device)
        self.output_stream = torch.cuda.Stream(self.device)
        self._pinned: list[tuple[object, object | None]] = []   # (pinned tensor, copy event)
        self._next_pinned = 0
        self._cached: tuple[tuple[int, int], object, object] | None = None   # (key, tensor, event)

    def _pinned_slot(self, image: np.ndarray):
        torch = self.torch
        if not self._pinned or tuple(self._pinned[0][0].shape) != image.shape:
            self._pinned = [(torch.empty(image.shape, dtype=torch.uint8, pin_memory=True), None)
                            for _ in range(PINNED_SLOTS)]
        slot = self._next_pinned
        self._next_pinned = (slot + 1) % len(self._pinned)
        buffer, event = self._pinned[slot]
        if event is not None:
            event.synchronize()                # its previous copy has left the buffer
        return slot, buffer

    def _upload(self, frame):
        """frame.rgb -> (1,3,H,W) float on the device, with the event that marks it ready."""
        key = (frame.epoch, frame.index)
        if self._cached is not None and self._cached[0] == key:
            return self._cached[1], self._cached[2]
        torch = self.torch
        slot, pinned = self._pinned_slot(frame.rgb)
        pinned.numpy()[...] = frame.rgb
        with torch.cuda.stream(self.upload_stream):
            device_uint8 = pinned.to(self.device, non_blocking=True)
            copied = torch.cuda.Event()
            copied.record(self.upload_stream)
            tensor = device_uint8.permute(2, 0, 1).unsqueeze(0).float().div_(255.0)
            uploaded = torch.cuda.Event()
            uploaded.record(self.upload_stream)
        self._pinned[slot] = (pinned, copied)
        self._cached = (key, tensor, uploaded)
        return tensor, uploaded

    def warm_up(self, height: int, width: int, calls: int = 2) -> float:
        torch = self.torch
        frame = torch.zeros((1, 3, height, width), device=self.device)
        for _ in range(calls):
            started = time.perf_counter()
            with torch.cuda.stream(self.inference_stream):
                self._infer(frame, frame, self.inference_stream)
            self.inference_stream.synchronize()
        return time.perf_counter() - started

    def __call__(self, frame0, frame1) -> GpuFrame:
        torch = self.torch
        started = time.perf_counter()
        tensor0, event0 = self._upload(frame0)
        tensor1, event1 = self._upload(frame1)
        with torch.cuda.stream(self.inference_stream):
            self.inference_stream.wait_event(event0)
            self.inference_stream.wait_event(event1)
            middle = self._infer(tensor0, tensor1, self.inference_stream)
            inferred = torch.cuda.Event()
            inferred.record(self.inference_stream)
        height, width = frame0.rgb.shape[:2]
        with torch.cuda.stream(self.output_stream):
            self.output_stream.wait_event(inferred)
            # a fresh buffer per frame (PyTorch's caching allocator on this stream): queued
            # frames keep theirs until shown
            rgba = torch.empty((height, width, 4), dtype=torch.uint8, device=self.device)
            rgba[..., 3] = 255
            rgba[..., :3] = middle[0].mul(255.0).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(1, 2, 0)
            ready = torch.cuda.Event()
            ready.record(self.output_stream)
        # the stage's time is the GPU's: wait here so that the readout and the skip policy
        # see real inference times (the next pair's upload already overlaps on its stream)
        ready.synchronize()
        self.stats.add_time("interpolate", time.perf_counter() - started)
        return GpuFrame(rgba, ready, self.output_stream)
