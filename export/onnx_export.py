"""torch -> ONNX: the network with one ``fmsmi::AdaptiveSepConv`` node per sepconv call.

The graph has inputs ``frame0``, ``frame1`` (N,3,H,W float in [0,1], H and W multiples of
the config's stride ``config.multiple``), output ``frame``, and dynamic N, H, W. Each
AdaptiveSepConv becomes a single node in the ``fmsmi`` domain with the attributes
TensorRT's ONNX parser hands to the plugin creator of the same name/version/namespace
(DESIGN.md §2): ``kernel_size`` (int), ``dilation`` (int), ``plugin_version`` "1",
``plugin_namespace`` "".

Exporter: the torch.export-based one (``torch.onnx.export(..., dynamo=True)``, the default
since PyTorch 2.9). The op is a ``torch.library`` custom op with a fake (shape) kernel,
translated by an onnxscript function into the custom node. Why not the TorchScript
exporter with an ``autograd.Function.symbolic``: it is deprecated, it warns on every
export, and on this network in torch 2.13 it crashes in its peephole pass unless autograd
inlining is turned off; torch.export also reasons about the symbolic sizes (H = k x stride)
instead of baking the traced ones into constants. The price is time: ~20 s for ``lite``
on 2 CPU cores instead of ~3 s, paid once per export.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import warnings
from pathlib import Path

import torch

from fmsmi import __version__
from fmsmi.engine.defaults import DEFAULT_MODEL
from fmsmi.engine.network import VFIFMSMI, NetworkConfig
from fmsmi.engine.op.reference import adaptive_sepconv_reference
from fmsmi.errors import BackendUnavailable, ConfigError

from .trt_build import file_sha256

log = logging.getLogger(__name__)

DOMAIN = "fmsmi"
DOMAIN_VERSION = 1
OP_TYPE = "AdaptiveSepConv"
PLUGIN_VERSION = "1"
PLUGIN_NAMESPACE = ""
INPUT_NAMES = ("frame0", "frame1")
OUTPUT_NAME = "frame"
DEFAULT_OPSET = 18
MIN_OPSET = 18      # the torch.export-based exporter's minimum
DIM_NAMES = ("batch", None, "height", "width")


@torch.library.custom_op("fmsmi_export::adaptive_sepconv", mutates_args=())
def _sepconv_op(img: torch.Tensor, kernel_v: torch.Tensor, kernel_h: torch.Tensor,
                kernel_size: int, dilation: int) -> torch.Tensor:
    """The op as torch.export sees it: opaque, one call, taps and dilation as arguments."""
    return adaptive_sepconv_reference(img, kernel_v, kernel_h, dilation)


@_sepconv_op.register_fake
def _sepconv_shape(img, kernel_v, kernel_h, kernel_size, dilation):
    return torch.empty_like(img)


def _export_sepconv(img, kernel_v, kernel_h, dilation):
    return _sepconv_op(img, kernel_v, kernel_h, int(kernel_v.shape[1]), dilation)


@functools.cache
def _translation():
    """onnxscript translation of the custom op into the ``fmsmi::AdaptiveSepConv`` node."""
    try:
        import onnxscript
        from onnx.defs import OpSchema
    except ImportError as exc:
        raise BackendUnavailable(f"ONNX export needs the packages onnx and onnxscript ({exc}): "
                                 "pip install onnx onnxscript") from exc
    schema = OpSchema(
        OP_TYPE, DOMAIN, DOMAIN_VERSION,
        doc="out[n,c,y,x] = sum_i sum_j V[n,i,y,x] H[n,j,y,x] img[n,c,clamp(y+d(i-r)),clamp(x+d(j-r))]",
        inputs=[OpSchema.FormalParameter("img", "T"), OpSchema.FormalParameter("kernel_v", "T"),
                OpSchema.FormalParameter("kernel_h", "T")],
        outputs=[OpSchema.FormalParameter("out", "T")],
        type_constraints=[("T", ["tensor(float)", "tensor(float16)"], "fp32 or fp16, fp32 accumulation")],
        attributes=[OpSchema.Attribute("kernel_size", OpSchema.AttrType.INT, "taps F (odd)"),
                    OpSchema.Attribute("dilation", OpSchema.AttrType.INT, "tap spacing d >= 1"),
                    OpSchema.Attribute("plugin_version", OpSchema.AttrType.STRING, "TensorRT plugin version"),
                    OpSchema.Attribute("plugin_namespace", OpSchema.AttrType.STRING, "TensorRT plugin namespace")])
    node = onnxscript.values.Op(onnxscript.values.Opset(DOMAIN, DOMAIN_VERSION), OP_TYPE, schema)

    def translate(img, kernel_v, kernel_h, kernel_size: int, dilation: int):
        return node(img, kernel_v, kernel_h, kernel_size=kernel_size, dilation=dilation,
                    plugin_version=PLUGIN_VERSION, plugin_namespace=PLUGIN_NAMESPACE)

    return {torch.ops.fmsmi_export.adaptive_sepconv.default: translate}


def heads_signature(config: NetworkConfig) -> str:
    """``level:taps:dilation`` per head, comma-separated (stored in the graph's metadata)."""
    return ",".join(f"{h.level}:{h.taps}:{h.dilation}" for h in config.heads)


@contextlib.contextmanager
def _quiet_exporter():
    """The exporter's warnings (deprecations inside torch, unused axis names, torchvision
    not installed) are not the user's business: keep them at debug level."""
    noisy = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript", "onnx_ir")]
    levels = [logger.level for logger in noisy]
    for logger in noisy:
        logger.setLevel(logging.ERROR)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for logger, level in zip(noisy, levels):
                logger.setLevel(level)
    for warning in caught:
        log.debug("exporter: %s", warning.message)


def export_onnx(network: VFIFMSMI, *, opset: int = DEFAULT_OPSET, metadata: dict[str, str] | None = None):
    """The fp32 ONNX graph (an ``onnx.ModelProto``) of ``network``; ``network`` is not modified."""
    import onnx

    if not isinstance(opset, int) or not MIN_OPSET <= opset <= onnx.defs.onnx_opset_version():
        raise ConfigError(f"opset={opset!r}: expected an integer in [{MIN_OPSET}, {onnx.defs.onnx_opset_version()}]")
    table = _translation()
    config = network.config
    multiple = config.multiple
    network = copy.deepcopy(network).float().cpu().eval()
    network.set_sepconv(_export_sepconv)
    # Batch 2 and H != W: sizes 0/1 and equal sizes would be specialised by torch.export.
    sample = torch.rand(2, 3, 2 * multiple, 3 * multiple, generator=torch.Generator().manual_seed(0))
    from torch.export import Dim
    batch = Dim("batch", min=1)
    rows, cols = Dim("rows", min=1), Dim("cols", min=1)
    axes = {0: batch, 2: multiple * rows, 3: multiple * cols}
    with _quiet_exporter(), torch.no_grad():
        try:
            program = torch.onnx.export(
                network, (sample, sample.flip(-1)), None, input_names=list(INPUT_NAMES),
                output_names=[OUTPUT_NAME], dynamic_shapes={"frame0": axes, "frame1": axes},
                custom_translation_table=table, opset_version=opset, dynamo=True,
                external_data=False, optimize=True, verbose=False)
        except ImportError as exc:
            raise BackendUnavailable(f"ONNX export needs onnxscript ({exc}): pip install onnxscript") from exc
    model = program.model_proto
    _strip_debug_metadata(model)
    _name_dims(model)
    meta = {"fmsmi.version": __version__, "fmsmi.model": config.name, "fmsmi.multiple": str(multiple),
            "fmsmi.heads": heads_signature(config), "fmsmi.precision": "fp32", **(metadata or {})}
    set_metadata(model, meta)
    onnx.checker.check_model(model)
    return model


def _strip_debug_metadata(model) -> None:
    """Drop the exporter's per-node stack traces and FX names: they hold local paths and
    would make the file (and the engine cache key, its hash) depend on where fmsmi lives."""
    graph = model.graph
    for item in [*graph.node, *graph.input, *graph.output, *graph.value_info, *graph.initializer]:
        if hasattr(item, "metadata_props"):
            del item.metadata_props[:]


def _name_dims(model) -> None:
    """Give the inputs' and the output's dynamic dimensions readable names."""
    for value in [*model.graph.input, *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        for dim, name in zip(dims, DIM_NAMES):
            if name is not None:
                dim.ClearField("dim_value")
                dim.dim_param = name


def set_metadata(model, entries: dict[str, str]) -> None:
    props = {p.key: p.value for p in model.metadata_props}
    props.update(entries)
    del model.metadata_props[:]
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, str(value)


def metadata(model) -> dict[str, str]:
    return {p.key: p.value for p in model.metadata_props}


def weights_tag(path: Path | None) -> str:
    """What the graph's ``fmsmi.weights`` metadata says about the weights it carries."""
    return "untrained" if path is None else f"{Path(path).name} sha256:{file_sha256(Path(path))[:16]}"


def export_model(model: str = DEFAULT_MODEL, weights: str | Path | None = None, *, opset: int = DEFAULT_OPSET,
                 fp16: bool = False):
    """The ONNX graph of config ``model`` with ``weights`` (None: the shipped ones, if any)."""
    from fmsmi.engine.interpolator import build_network

    network, path = build_network(model, weights)
    graph = export_onnx(network, opset=opset, metadata={"fmsmi.weights": weights_tag(path)})
    if fp16:
        from .fp16 import convert_to_fp16
        graph = convert_to_fp16(graph)
    return graph


def save(model, path: str | Path) -> Path:
    """Write ``model`` to ``path`` atomically (one file, weights inside)."""
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    onnx.save_model(model, temporary)
    temporary.replace(path)
    return path


def sepconv_nodes(model) -> list:
    """The ``fmsmi::AdaptiveSepConv`` nodes of ``model``, in graph order."""
    return [node for node in model.graph.node if node.domain == DOMAIN and node.op_type == OP_TYPE]
