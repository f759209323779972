"""The TensorRT runner: an FP16 engine with the AdaptiveSepConv plugin, on pycuda streams.

On first use the network is exported to ONNX and the engine built (both cached, see
:mod:`fmsmi.export.trt_build`); later runs deserialize the cached engine. ``fmsmi.export``
is imported lazily inside :class:`TensorRTRunner` — the one place where the engine uses the
export package, and only when the TRT backend is constructed.

Pipeline: two slots, each with pinned host buffers (both frames in, the frame out) and
device buffers. Three CUDA streams — upload, inference, download — ordered by events:

    upload[k]   : host->device copies of slot k            -> event uploaded[k]
    inference[k]: waits uploaded[k]; execute_async_v3      -> event inferred[k]
    download[k] : waits inferred[k]; device->host copy     -> event downloaded[k]

While slot k runs on the GPU the caller fills and uploads slot k+1 and the download of slot
k-1 proceeds, so with :meth:`submit` / :meth:`Ticket.result` the three overlap. ``__call__``
is submit + result. Inputs and outputs are host tensors; ``device`` is therefore the CPU.

tensorrt and pycuda are imported when the runner is built, never at module import: without
them the constructor raises BackendUnavailable with the reason.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path

import numpy as np
import torch

from fmsmi.engine.defaults import DEFAULT_MODEL
from fmsmi.errors import BackendUnavailable, ConfigError, FmsmiError

log = logging.getLogger(__name__)

SLOTS = 2
INPUT_NAMES = ("frame0", "frame1")
OUTPUT_NAME = "frame"
ONNX_OPSET = 18


def _weights_tag(weights: Path | None) -> str:
    if weights is None:
        return "untrained"
    from fmsmi.export.trt_build import file_sha256
    return f"{Path(weights).stem}-{file_sha256(Path(weights))[:12]}"


class _Slot:
    """Pinned host and device buffers of one in-flight pair, sized for ``shape``."""

    def __init__(self, cuda, shape: tuple[int, ...], in_dtype, out_dtype):
        self.shape = shape
        self.host_in = [cuda.pagelocked_empty(shape, in_dtype) for _ in INPUT_NAMES]
        self.host_out = cuda.pagelocked_empty(shape, out_dtype)
        self.device_in = [cuda.mem_alloc(buffer.nbytes) for buffer in self.host_in]
        self.device_out = cuda.mem_alloc(self.host_out.nbytes)
        self.uploaded, self.inferred, self.downloaded = cuda.Event(), cuda.Event(), cuda.Event()
        self.ticket: Ticket | None = None

    def free(self) -> None:
        for buffer in (*self.device_in, self.device_out):
            buffer.free()


class Ticket:
    """One submitted pair; :meth:`result` waits for its download and returns the frame."""

    def __init__(self, runner: TensorRTRunner, slot: _Slot, shape: tuple[int, ...]):
        self._runner, self._slot, self._shape = runner, slot, shape
        self._result: torch.Tensor | None = None

    def done(self) -> bool:
        return self._result is not None or self._slot.downloaded.query()

    def result(self) -> torch.Tensor:
        if self._result is None:
            with self._runner._context():
                self._slot.downloaded.synchronize()
            n, c, h, w = self._shape
            out = torch.from_numpy(self._slot.host_out.reshape(-1)[: n * c * h * w].reshape(self._shape))
            self._result = out.to(torch.float32, copy=True)     # the pinned buffer is reused
            if self._slot.ticket is self:
                self._slot.ticket = None
        return self._result


class TensorRTRunner:
    """``runner(frame0, frame1)`` on (N,3,H,W) float tensors padded to the model's stride."""

    def __init__(self, model: str = DEFAULT_MODEL, weights: str | Path | None = None, *, precision: str = "fp16",
                 profile=None, engine_dir: str | Path | None = None):
        from . import trt_unavailable_reason

        reason = trt_unavailable_reason()
        if reason is not None:
            raise BackendUnavailable(f"backend='trt': {reason}")
        import pycuda.driver as cuda
        import tensorrt as trt

        # Lazy: the export package (torch.export, onnx, TensorRT builder) only for this backend.
        from fmsmi.export import trt_build

        from ..network import get_config
        from ..weights import shipped_weights

        self._cuda, self._trt = cuda, trt
        self.config = get_config(model)
        self.weights = Path(weights) if weights is not None else shipped_weights(model)
        self.device = torch.device("cpu")          # where the runner takes and returns tensors
        self.precision = precision
        self.profile = profile or trt_build.Profile.for_model(self.config.multiple)
        self._lock = threading.Lock()
        self._cuda_context = cuda.Device(0).retain_primary_context()   # the context TensorRT uses
        engine_dir = Path(engine_dir) if engine_dir else trt_build.cache_dir()
        with self._context():
            onnx_path = self._onnx(model, engine_dir)
            self._loaded = trt_build.load_or_build_engine(onnx_path, self.profile, precision, engine_dir=engine_dir)
            engine = self._loaded.engine
            self.engine_path = self._loaded.path
            self._execution = engine.create_execution_context()
            self._in_dtype = trt.nptype(engine.get_tensor_dtype(INPUT_NAMES[0]))
            self._out_dtype = trt.nptype(engine.get_tensor_dtype(OUTPUT_NAME))
            self._upload, self._infer, self._download = cuda.Stream(), cuda.Stream(), cuda.Stream()
        self._slots: list[_Slot | None] = [None] * SLOTS
        self._next = 0
        self.gpu_name = cuda.Device(0).name()
        log.info("TensorRT runner: %s on %s (%s, inputs %s)", self.engine_path.name, self.gpu_name, precision,
                 np.dtype(self._in_dtype).name)

    # ------------------------------------------------------------------ setup

    @contextlib.contextmanager
    def _context(self):
        """Make the primary CUDA context current on this thread (callers may be any thread)."""
        self._cuda_context.push()
        try:
            yield
        finally:
            self._cuda.Context.pop()

    def _onnx(self, model: str, engine_dir: Path) -> Path:
        """The cached ONNX export of (model, weights), exported on first use."""
        from fmsmi import __version__
        from fmsmi.export import onnx_export

        path = engine_dir / f"{model}-{_weights_tag(self.weights)}-fmsmi{__version__}-opset{ONNX_OPSET}.onnx"
        if not path.is_file():
            log.warning("exporting model %r to ONNX for TensorRT (once): %s", model, path)
            onnx_export.save(onnx_export.export_model(model, self.weights, opset=ONNX_OPSET), path)
        return path

    def _slot(self, shape: tuple[int, ...]) -> _Slot:
        """The next slot, its buffers grown to ``shape`` and its previous result collected."""
        index = self._next
        self._next = (self._next + 1) % SLOTS
        slot = self._slots[index]
        if slot is not None and slot.ticket is not None:
            slot.ticket.result()                   # keep its frame before the buffers are reused
        if slot is None or np.prod(slot.shape) < np.prod(shape):
            if slot is not None:
                slot.downloaded.synchronize()
                slot.free()
            slot = self._slots[index] = _Slot(self._cuda, shape, self._in_dtype, self._out_dtype)
        return slot

    # ------------------------------------------------------------------ running

    def submit(self, frame0: torch.Tensor, frame1: torch.Tensor) -> Ticket:
        """Queue one pair: copy into pinned memory, upload, infer, download, all asynchronous."""
        if frame0.shape != frame1.shape or frame0.dim() != 4 or frame0.shape[1] != 3:
            raise ConfigError(f"frame shapes {tuple(frame0.shape)}, {tuple(frame1.shape)}: expected two equal (N,3,H,W)")
        n, _, height, width = frame0.shape
        multiple = self.config.multiple
        if height % multiple or width % multiple:
            raise ConfigError(f"frame size {width}x{height}: expected multiples of {multiple} (pad first)")
        if not self.profile.covers(height, width, n):
            raise ConfigError(f"frame size {width}x{height} batch {n}: outside the engine's profile "
                              f"{self.profile.tag()} (sizes {self.profile.min[0]}x{self.profile.min[1]} to "
                              f"{self.profile.max[0]}x{self.profile.max[1]} after padding)")
        shape = tuple(frame0.shape)
        with self._lock, self._context():
            slot = self._slot(shape)
            count = int(np.prod(shape))
            for host, device, frame in zip(slot.host_in, slot.device_in, (frame0, frame1)):
                view = host.reshape(-1)[:count].reshape(shape)
                torch.from_numpy(view).copy_(frame.detach().cpu())        # converts to the engine's dtype
                self._cuda.memcpy_htod_async(device, view, self._upload)
            slot.uploaded.record(self._upload)
            self._infer.wait_for_event(slot.uploaded)
            execution = self._execution
            for name, device in zip(INPUT_NAMES, slot.device_in):
                if not execution.set_input_shape(name, shape):
                    raise ConfigError(f"{name} shape {shape}: refused by the engine (profile {self.profile.tag()})")
                execution.set_tensor_address(name, int(device))
            execution.set_tensor_address(OUTPUT_NAME, int(slot.device_out))
            if not execution.execute_async_v3(self._infer.handle):
                raise FmsmiError(f"TensorRT execute_async_v3 failed for {width}x{height} "
                                 f"({'; '.join(self._loaded.logger.errors[-1:]) or 'no details'})")
            slot.inferred.record(self._infer)
            self._download.wait_for_event(slot.inferred)
            out_view = slot.host_out.reshape(-1)[:count].reshape(shape)
            self._cuda.memcpy_dtoh_async(out_view, slot.device_out, self._download)
            slot.downloaded.record(self._download)
            slot.ticket = Ticket(self, slot, shape)
            return slot.ticket

    def __call__(self, frame0: torch.Tensor, frame1: torch.Tensor) -> torch.Tensor:
        return self.submit(frame0, frame1).result()

    def close(self) -> None:
        """Free the device buffers (the runner is unusable afterwards)."""
        with self._lock, self._context():
            for slot in self._slots:
                if slot is not None:
                    slot.downloaded.synchronize()
                    slot.free()
            self._slots = [None] * SLOTS
            self._execution = None
