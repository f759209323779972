"""TensorRT engine build and the engine cache.

Order of a build (DESIGN.md §3): load ``libfmsmi_trt_plugin`` into TensorRT's plugin
registry (the ONNX parser maps each ``fmsmi::AdaptiveSepConv`` node to the creator of the
same name, version "1" and namespace ""), parse the ONNX file, one optimization profile
(min/opt/max) for ``frame0``/``frame1``, a timing cache, build, serialize.

Precision:

- TensorRT 10: the fp32 graph with ``BuilderFlag.FP16`` (an FP16-typed graph is built as a
  strongly typed network, which TensorRT 10 also supports); a graph with an fp32 region (the
  motion pre-alignment) is converted to the FP16-typed graph first, as for TensorRT 11.
- TensorRT 11+: no FP16 flag; the FP16-typed graph (:mod:`fmsmi.export.fp16`, converted
  here when given the fp32 one) as a strongly typed network.

Engines only run on the GPU model and TensorRT version that built them: the cache file is
named after every build input (:func:`engine_file_name`). A cached engine that fails to
deserialize (another TensorRT, a corrupt file) is rebuilt after a one-line warning. Files
are written atomically (temporary file + rename), so a killed build leaves no half engine.

The cache lives in ``$FMSMI_CACHE`` when set, else ``~/.cache/fmsmi/engines``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from fmsmi.errors import BackendUnavailable, ConfigError, FmsmiError, InputError

log = logging.getLogger(__name__)

PRECISIONS = ("fp16", "fp32")
INPUT_NAMES = ("frame0", "frame1")
PLUGIN = ("AdaptiveSepConv", "1", "")        # name, version, namespace
# Defaults cover 360p .. 4K (rounded up to the model's stride); opt is 1080p.
DEFAULT_MIN, DEFAULT_OPT, DEFAULT_MAX = (640, 360), (1920, 1080), (3840, 2160)
WORKSPACE_BYTES = 2 << 30


class EngineBuildError(FmsmiError):
    """TensorRT could not parse the graph or build an engine from it."""


# ---------------------------------------------------------------------------- profile


def parse_size(text: str, name: str = "size") -> tuple[int, int]:
    """``"1920x1080"`` -> (1920, 1080)."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", str(text))
    if not match or int(match[1]) < 1 or int(match[2]) < 1:
        raise ConfigError(f"{name}={text!r}: expected WIDTHxHEIGHT with positive integers, e.g. 1920x1080")
    return int(match[1]), int(match[2])


def round_up(size: tuple[int, int], multiple: int) -> tuple[int, int]:
    return tuple(-(-value // multiple) * multiple for value in size)


@dataclass(frozen=True)
class Profile:
    """One optimization profile: (width, height) at min/opt/max, already multiples of the stride."""

    min: tuple[int, int]
    opt: tuple[int, int]
    max: tuple[int, int]
    batch: tuple[int, int, int] = (1, 1, 1)

    def __post_init__(self) -> None:
        for axis, label in ((0, "width"), (1, "height")):
            if not self.min[axis] <= self.opt[axis] <= self.max[axis]:
                raise ConfigError(f"profile {label}s min={self.min[axis]} opt={self.opt[axis]} max={self.max[axis]}: "
                                  "expected min <= opt <= max")
        if not 1 <= self.batch[0] <= self.batch[1] <= self.batch[2]:
            raise ConfigError(f"profile batch={self.batch}: expected 1 <= min <= opt <= max")

    @classmethod
    def for_model(cls, multiple: int, min: tuple[int, int] | None = None, opt: tuple[int, int] | None = None,
                  max: tuple[int, int] | None = None, batch: tuple[int, int, int] = (1, 1, 1)) -> Profile:
        """A profile with every size rounded up to ``multiple`` (defaults: 360p / 1080p / 4K)."""
        return cls(round_up(min or DEFAULT_MIN, multiple), round_up(opt or DEFAULT_OPT, multiple),
                   round_up(max or DEFAULT_MAX, multiple), batch)

    def shape(self, which: str) -> tuple[int, int, int, int]:
        """The NCHW input shape at "min", "opt" or "max"."""
        width, height = getattr(self, which)
        batch = self.batch[("min", "opt", "max").index(which)]
        return (batch, 3, height, width)

    def covers(self, height: int, width: int, batch: int = 1) -> bool:
        return (self.min[0] <= width <= self.max[0] and self.min[1] <= height <= self.max[1]
                and self.batch[0] <= batch <= self.batch[2])

    def tag(self) -> str:
        size = lambda s: f"{s[0]}x{s[1]}"
        return f"b{'-'.join(map(str, self.batch))}_{size(self.min)}-{size(self.opt)}-{size(self.max)}"


# ---------------------------------------------------------------------------- cache names


def cache_dir() -> Path:
    """``$FMSMI_CACHE``, else ``~/.cache/fmsmi/engines``."""
    override = os.environ.get("FMSMI_CACHE")
    return Path(override).expanduser() if override else Path.home() / ".cache" / "fmsmi" / "engines"


def sanitize(text: str) -> str:
    """A file-name-safe, lower-case version of ``text`` (GPU names have spaces and slashes)."""
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-") or "unknown"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def engine_file_name(onnx_sha256: str, profile: Profile, precision: str, trt_version: str, gpu_name: str,
                     compute_capability: tuple[int, int]) -> str:
    """The engine cache file name: one field per build input."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision={precision!r}: expected one of {list(PRECISIONS)}")
    major, minor = compute_capability
    return (f"fmsmi-{onnx_sha256[:16]}-{profile.tag()}-{precision}-trt{sanitize(trt_version)}"
            f"-{sanitize(gpu_name)}-sm{major}{minor}.engine")


def timing_cache_name(trt_version: str, gpu_name: str, compute_capability: tuple[int, int]) -> str:
    major, minor = compute_capability
    return f"timing-trt{sanitize(trt_version)}-{sanitize(gpu_name)}-sm{major}{minor}.cache"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename; a cache folder that
    cannot take it is a ConfigError naming the path (FMSMI_CACHE picks another folder)."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(data)
        temporary.replace(path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the engine cache file ({exc.strerror or exc}); "
                          f"set FMSMI_CACHE to a writable folder") from exc
    finally:
        try:
            temporary.unlink(missing_ok=True)
        except OSError:
            pass


# ---------------------------------------------------------------------------- TensorRT


def import_tensorrt():
    """The ``tensorrt`` module with a builder, or BackendUnavailable with the reason."""
    try:
        import tensorrt
    except ImportError as exc:
        reason = "TensorRT (python package 'tensorrt') not installed"
        try:
            import tensorrt_lean  # noqa: F401  (runtime only: cannot build)
            reason += "; tensorrt_lean is installed but has no builder"
        except ImportError:
            pass
        raise BackendUnavailable(f"{reason} ({exc})") from exc
    if not hasattr(tensorrt, "Builder"):
        raise BackendUnavailable(f"TensorRT {getattr(tensorrt, '__version__', '?')} has no builder (a runtime-only install)")
    return tensorrt


def trt_major(trt) -> int:
    return int(str(trt.__version__).split(".")[0])


def gpu_identity() -> tuple[str, tuple[int, int]]:
    """(name, compute capability) of CUDA device 0, through pycuda or else torch."""
    try:
        import pycuda.driver as driver
        driver.init()
        device = driver.Device(0)
        return device.name(), tuple(device.compute_capability())
    except Exception as pycuda_error:  # ImportError, or pycuda's own errors without a driver
        import torch
        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0), tuple(torch.cuda.get_device_capability(0))
        raise BackendUnavailable(f"no CUDA GPU visible (pycuda: {type(pycuda_error).__name__}: {pycuda_error}; "
                                 "torch.cuda unavailable)") from pycuda_error


def make_logger(trt):
    """A ``trt.ILogger`` forwarding to ``logging`` (INFO/VERBOSE at debug level) that keeps the errors."""
    levels = {trt.ILogger.Severity.INTERNAL_ERROR: logging.CRITICAL, trt.ILogger.Severity.ERROR: logging.ERROR,
              trt.ILogger.Severity.WARNING: logging.WARNING, trt.ILogger.Severity.INFO: logging.DEBUG,
              trt.ILogger.Severity.VERBOSE: logging.DEBUG}
    trt_log = logging.getLogger("fmsmi.tensorrt")

    class Logger(trt.ILogger):
        def __init__(self):
            trt.ILogger.__init__(self)
            self.errors: list[str] = []

        def log(self, severity, msg):
            level = levels.get(severity, logging.INFO)
            if level >= logging.ERROR:
                self.errors.append(msg)
            trt_log.log(level, "%s", msg)

    return Logger()


def load_plugin(trt, library: Path | None = None) -> Path:
    """Load libfmsmi_trt_plugin into TensorRT's plugin registry (once per process)."""
    from fmsmi.errors import NativeLibraryError
    from fmsmi.plugins import library_path

    registry = trt.get_plugin_registry()
    if registry.get_creator(*PLUGIN) is not None:
        return library or Path("<already registered>")
    try:
        path = Path(library) if library else library_path("tensorrt")
    except NativeLibraryError as exc:
        raise BackendUnavailable(f"TensorRT plugin library not built ({exc})") from exc
    handle = registry.load_library(str(path))
    if handle is None or registry.get_creator(*PLUGIN) is None:
        raise BackendUnavailable(f"{path}: loaded into TensorRT's plugin registry but no creator "
                                 f"{PLUGIN[0]!r} version {PLUGIN[1]!r} registered")
    log.info("TensorRT plugin library %s loaded", path)
    return path


def build_serialized(trt, onnx_path: Path, profile: Profile, precision: str, timing_cache: Path | None,
                     logger) -> bytes:
    """Parse ``onnx_path`` and build a serialized engine (the plugin must be loaded)."""
    import onnx

    from .fp16 import is_fp16_graph

    fp16_graph = is_fp16_graph(onnx.load(str(onnx_path), load_external_data=False))
    if fp16_graph and precision != "fp16":
        raise ConfigError(f"{onnx_path}: an FP16-typed graph builds only an fp16 engine, got precision={precision!r}")
    strongly_typed = fp16_graph or trt_major(trt) >= 11
    builder = trt.Builder(logger)
    flags = 0
    # TensorRT 11 networks are strongly typed whether or not the flag still exists.
    strong_flag = getattr(getattr(trt, "NetworkDefinitionCreationFlag", None), "STRONGLY_TYPED", None)
    if strongly_typed and strong_flag is not None:
        flags |= 1 << int(strong_flag)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineBuildError(f"{onnx_path}: TensorRT's ONNX parser failed: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    if precision == "fp16" and not strongly_typed:
        config.set_flag(trt.BuilderFlag.FP16)            # TensorRT 10 with the fp32 graph
    optimization = builder.create_optimization_profile()
    for name in INPUT_NAMES:
        optimization.set_shape(name, profile.shape("min"), profile.shape("opt"), profile.shape("max"))
    config.add_optimization_profile(optimization)
    if timing_cache is not None:
        existing = timing_cache.read_bytes() if timing_cache.is_file() else b""
        cache = config.create_timing_cache(existing)
        config.set_timing_cache(cache, ignore_mismatch=False)
    log.warning("building a TensorRT %s engine from %s for %s (takes minutes, once)", precision,
                onnx_path.name, profile.tag())
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineBuildError(f"{onnx_path}: TensorRT engine build failed: {'; '.join(logger.errors) or 'no details'}")
    if timing_cache is not None:
        write_atomic(timing_cache, bytes(config.get_timing_cache().serialize()))
    return bytes(serialized)


def prepare_onnx(trt, onnx_path: Path, precision: str, work_dir: Path) -> Path:
    """The graph to parse: the given one, or its FP16-typed version for fp16 on TensorRT 11+,
    and on TensorRT 10 when the graph has an fp32 region (the motion search: with
    ``BuilderFlag.FP16`` TensorRT may run its grid positions in fp16, a pixel off at 4K; the
    typed graph, built strongly typed, keeps them fp32)."""
    import onnx

    from .fp16 import convert_to_fp16, fp32_region, is_fp16_graph
    from .onnx_export import save

    if precision != "fp16":
        return onnx_path
    model = onnx.load(str(onnx_path))
    if is_fp16_graph(model) or (trt_major(trt) < 11 and not fp32_region(model)):
        return onnx_path
    converted = work_dir / f"{onnx_path.stem}-{file_sha256(onnx_path)[:16]}-fp16.onnx"
    if not converted.is_file():
        log.info("TensorRT %s: converting %s to an FP16-typed graph", trt.__version__, onnx_path)
        save(convert_to_fp16(model), converted)
    return converted


@dataclass(frozen=True)
class BuiltEngine:
    path: Path
    data: bytes
    rebuilt: bool


def build_engine(onnx_path: str | Path, profile: Profile, precision: str = "fp16", *,
                 timing_cache: str | Path | None = None, engine_dir: str | Path | None = None,
                 plugin_library: str | Path | None = None, force: bool = False) -> BuiltEngine:
    """The serialized engine for ``onnx_path``: from the cache when it is there, else built
    and cached. Does not check that a cached engine deserializes: see
    :func:`load_or_build_engine`."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision={precision!r}: expected one of {list(PRECISIONS)}")
    onnx_path = Path(onnx_path)
    if not onnx_path.is_file():
        raise InputError(f"{onnx_path}: ONNX file not found")
    trt = import_tensorrt()
    gpu_name, capability = gpu_identity()
    engine_dir = Path(engine_dir) if engine_dir else cache_dir()
    path = engine_dir / engine_file_name(file_sha256(onnx_path), profile, precision, trt.__version__,
                                         gpu_name, capability)
    if path.is_file() and not force:
        return BuiltEngine(path, path.read_bytes(), rebuilt=False)
    timing = Path(timing_cache) if timing_cache else engine_dir / timing_cache_name(trt.__version__, gpu_name, capability)
    logger = make_logger(trt)
    load_plugin(trt, Path(plugin_library) if plugin_library else None)
    graph = prepare_onnx(trt, onnx_path, precision, engine_dir)
    data = build_serialized(trt, graph, profile, precision, timing, logger)
    write_atomic(path, data)
    log.info("engine written to %s", path)
    return BuiltEngine(path, data, rebuilt=True)


@dataclass
class LoadedEngine:
    """A deserialized engine with the runtime and logger it needs to stay alive."""

    engine: object
    runtime: object
    logger: object
    path: Path


def load_or_build_engine(onnx_path: str | Path, profile: Profile, precision: str = "fp16", *,
                         timing_cache: str | Path | None = None, engine_dir: str | Path | None = None,
                         plugin_library: str | Path | None = None) -> LoadedEngine:
    """The deserialized engine for ``onnx_path``: cached or built; a cached file that does
    not deserialize (another TensorRT version, corrupt) is rebuilt once, with a warning."""
    trt = import_tensorrt()
    logger = make_logger(trt)
    load_plugin(trt, Path(plugin_library) if plugin_library else None)
    runtime = trt.Runtime(logger)
    kwargs = dict(timing_cache=timing_cache, engine_dir=engine_dir, plugin_library=plugin_library)
    built = build_engine(onnx_path, profile, precision, **kwargs)
    engine = _deserialize(runtime, built.data)
    if engine is None and not built.rebuilt:
        log.warning("cached engine %s does not deserialize (%s); rebuilding", built.path.name,
                    "; ".join(logger.errors[-1:]) or "other TensorRT version or corrupt file")
        built = build_engine(onnx_path, profile, precision, force=True, **kwargs)
        engine = _deserialize(runtime, built.data)
    if engine is None:
        raise EngineBuildError(f"{built.path}: a freshly built engine does not deserialize: "
                               f"{'; '.join(logger.errors) or 'no details'}")
    return LoadedEngine(engine, runtime, logger, built.path)


def _deserialize(runtime, data: bytes):
    try:
        return runtime.deserialize_cuda_engine(data)
    except Exception as exc:  # TensorRT raises RuntimeError/TypeError variants across versions
        log.debug("deserialize_cuda_engine: %s", exc)
        return None
