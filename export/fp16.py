"""The FP16-typed graph for TensorRT 11's strongly typed networks.

TensorRT 11 has no ``BuilderFlag.FP16``: a strongly typed network runs every layer in the
type the graph gives it, so an FP16 engine comes from a graph whose tensors are fp16.
:func:`convert_to_fp16` rewrites the exported fp32 graph:

- graph inputs and outputs, weights (initializers, ``Constant`` nodes) and every float
  tensor computed from the frames become fp16; ``Cast(to=FLOAT)`` on that path becomes
  ``Cast(to=FLOAT16)``;
- fp32 stays where it is needed, always as explicit ``Cast`` nodes around it.

Which ops need fp32 (the decision, for this network):

- **Shape arithmetic.** Float tensors that do not depend on the frames' values (sizes
  computed from ``Shape``, ``Cast`` of integers, scale factors) stay fp32: fp16 integers stop
  being exact at 2048, which turns 4K sizes into off-by-a-pixel artifacts. The exporter emits
  this network's size math in int64, so none occurs today; the rule keeps it safe.
- **Inputs the ONNX spec types as float32 only**: ``Resize``/``Upsample`` scales (and the
  Resize ``roi``) keep their fp32 tensors.
- **Ops in** :data:`FP32_OPS` — reductions and transcendental ops whose fp16 range or
  accumulation is known to break (``Softmax``, ``Reduce*``, ``Exp``, ``Log``, ``Pow``, the
  normalisations) — run as fp32 islands: ``Cast`` to fp32 in front, ``Cast`` back to fp16
  behind. VFI_FMSMI has none of them.
- **Sampling positions.** ``GridSample`` reads its grid as pixel positions (the motion
  pre-alignment's, engine/network/motion.py): in fp16 a normalised position of a 3840-wide
  frame is only good to about a pixel. Every node on the data path that computes a grid
  (for VFI_FMSMI: the whole motion search, from the grey frames on) and the ``GridSample``
  itself form an fp32 *region*: Casts to fp32 where fp16 data enters it, to fp16 where its
  results leave it, fp32 inside (no round trip between its nodes).
- **Not** islands: ``AdaptiveSepConv`` takes fp16 tensors and accumulates (and computes
  its indices) in fp32 inside the op (DESIGN.md §2), so it needs no Casts; ``Conv``,
  ``PRelu``, ``Sigmoid``, ``Resize``, ``AveragePool`` (at most 8x8 frame pixels in [0,1]),
  ``DepthToSpace`` and the occlusion blend are well inside fp16's range and precision
  (TensorRT accumulates fp16 convolutions in fp32).

The reference evaluator measures the result (``fmsmi export --fp16 --check``: >= 40 dB
against the PyTorch fp32 model).
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

# Ops run in fp32 between Casts when they occur on the frames' data path.
FP32_OPS = frozenset({
    "Softmax", "LogSoftmax", "Exp", "Log", "Pow", "Sqrt", "Reciprocal", "CumSum",
    "ReduceSum", "ReduceMean", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum",
    "ReduceLogSumExp", "ReduceProd",
    "LayerNormalization", "InstanceNormalization", "GroupNormalization", "LpNormalization",
})

# Inputs (by position) that the ONNX spec types as float32 regardless of the data type.
FP32_INPUTS = {"Resize": {1, 2}, "Upsample": {1}}

# Inputs (by position) whose computation, and the op itself, run in fp32 (the fp32 region).
FP32_PATHS = {"GridSample": {1}}

# Ops whose outputs never carry the input values' type (pure shape queries).
SHAPE_OPS = frozenset({"Shape", "Size"})


def _float_types():
    from onnx import TensorProto
    return TensorProto.FLOAT, TensorProto.FLOAT16


def convert_to_fp16(model, fp32_ops: frozenset[str] = FP32_OPS):
    """An fp16-typed copy of the fp32 graph ``model`` (see the module docstring)."""
    import onnx
    from onnx import helper, numpy_helper

    FLOAT, FLOAT16 = _float_types()
    model = _copy(model)
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer if init.data_type == FLOAT}
    elem_type = _elem_types(model)

    # 1. The data path: float tensors that depend on the frames' values.
    data: set[str] = {v.name for v in graph.input if v.type.tensor_type.elem_type == FLOAT}
    for node in graph.node:
        if node.op_type in SHAPE_OPS:
            continue
        if any(name in data for name in node.input):
            # outputs of unknown type (custom ops without inference) follow their inputs
            data.update(out for out in node.output if out and elem_type.get(out, FLOAT) == FLOAT)

    region = _fp32_region(graph, data)
    fp32_tensors = {out for node in graph.node if node.output[0] in region for out in node.output if out in data}

    # 2. Weights: float initializers and Constant outputs consumed on the data path.
    consumers: dict[str, list[tuple]] = {}
    for node in graph.node:
        for index, name in enumerate(node.input):
            consumers.setdefault(name, []).append((node, index))
    constants = {node.output[0]: node for node in graph.node
                 if node.op_type == "Constant" and _constant_is_float(node)}

    def wants_fp16(node, index) -> bool:
        on_path = node.op_type not in SHAPE_OPS and any(name in data for name in node.input)
        return (on_path and node.output[0] not in region and index not in FP32_INPUTS.get(node.op_type, ())
                and node.op_type not in fp32_ops)

    new_nodes: list = []
    for name in [*initializers, *constants]:
        uses = consumers.get(name, [])
        half_uses = [(node, index) for node, index in uses if wants_fp16(node, index)]
        if not half_uses:
            continue
        if len(half_uses) == len(uses) and name not in {o.name for o in graph.output}:
            target = name                       # every use is fp16: convert in place
        else:
            target = f"{name}__fp16"            # shared with fp32 uses: an fp16 copy beside it
            for node, index in half_uses:
                node.input[index] = target
        if name in initializers:
            half = numpy_helper.from_array(numpy_helper.to_array(initializers[name]).astype(np.float16), target)
            if target == name:
                initializers[name].CopyFrom(half)
            else:
                graph.initializer.append(half)
        else:
            value = numpy_helper.to_array(constants[name].attribute[0].t).astype(np.float16)
            half = helper.make_node("Constant", [], [target], value=numpy_helper.from_array(value),
                                    name=f"{constants[name].name or name}_fp16")
            if target == name:
                constants[name].CopyFrom(half)
            else:
                new_nodes.append((constants[name], half))
        data.add(target)
        elem_type[target] = FLOAT16
    for anchor, half in new_nodes:
        graph.node.insert(list(graph.node).index(anchor) + 1, half)

    # 3. Retype the data path; fp32 islands and fp32-only inputs get explicit Casts.
    rebuilt: list = []
    for node in graph.node:
        on_path = node.op_type not in SHAPE_OPS and any(name in data for name in node.input)
        if not on_path:
            rebuilt.append(node)
            continue
        if node.output[0] in region:
            for index, name in enumerate(node.input):
                if name in data and name not in fp32_tensors:
                    cast = f"{name}__fp32_for_{node.name or node.op_type}_{index}"
                    rebuilt.append(helper.make_node("Cast", [name], [cast], to=FLOAT, name=f"{cast}_cast"))
                    node.input[index] = cast
            rebuilt.append(node)
            continue
        island = node.op_type in fp32_ops
        for index, name in enumerate(node.input):
            if not name:
                continue
            needs_fp32 = island or index in FP32_INPUTS.get(node.op_type, ())
            if needs_fp32 and name in data:
                cast = f"{name}__fp32_for_{node.name or node.op_type}_{index}"
                rebuilt.append(helper.make_node("Cast", [name], [cast], to=FLOAT, name=f"{cast}_cast"))
                node.input[index] = cast
            elif not needs_fp32 and (name in fp32_tensors or (name not in data and elem_type.get(name) == FLOAT)):
                # an fp32 value computed off the data path (shape math) meeting fp16 data
                cast = f"{name}__fp16_for_{node.name or node.op_type}_{index}"
                rebuilt.append(helper.make_node("Cast", [name], [cast], to=FLOAT16, name=f"{cast}_cast"))
                node.input[index] = cast
        if node.op_type == "Cast" and _cast_to(node) == FLOAT:
            _set_cast_to(node, FLOAT16)
        rebuilt.append(node)
        if island:
            for index, name in enumerate(node.output):
                if name in data:
                    wide = f"{name}__fp32"
                    node.output[index] = wide
                    rebuilt.append(helper.make_node("Cast", [wide], [name], to=FLOAT16, name=f"{name}_to_fp16"))
    del graph.node[:]
    graph.node.extend(rebuilt)

    for value in [*graph.input, *graph.output, *graph.value_info]:
        if value.name in data and value.name not in fp32_tensors and value.type.tensor_type.elem_type == FLOAT:
            value.type.tensor_type.elem_type = FLOAT16
    _set_precision(model, "fp16")
    onnx.checker.check_model(model)
    log.debug("fp16: %d data tensors retyped, fp32 ops present: %s", len(data),
              sorted({n.op_type for n in graph.node if n.op_type in fp32_ops}) or "none")
    return model


def _fp32_region(graph, data: set[str]) -> set[str]:
    """First output names (a stable key: protobuf hands out new wrappers) of the data-path nodes that compute an input named in FP32_PATHS, and of the
    ops that read it (see the module docstring)."""
    producer = {out: node for node in graph.node for out in node.output if out}
    region: set[str] = set()
    pending = []
    for node in graph.node:
        for index in FP32_PATHS.get(node.op_type, ()):
            if index < len(node.input) and node.input[index] in data:
                region.add(node.output[0])
                pending.append(node.input[index])
    while pending:
        node = producer.get(pending.pop())
        if node is None or node.output[0] in region or node.op_type in SHAPE_OPS:
            continue
        region.add(node.output[0])
        pending.extend(name for name in node.input if name in data)
    return region


def fp32_region(model) -> list[str]:
    """Names of the nodes of a graph (fp32 or fp16) in its fp32 region."""
    graph = model.graph
    data: set[str] = {v.name for v in graph.input}
    for node in graph.node:
        if node.op_type not in SHAPE_OPS and any(name in data for name in node.input):
            data.update(out for out in node.output if out)
    region = _fp32_region(graph, data)
    return [node.name or node.op_type for node in graph.node if node.output[0] in region]


def fp32_islands(model) -> list[str]:
    """Names of the nodes of an fp16 graph that run in fp32 between Casts (outside the
    fp32 region)."""
    region = set(fp32_region(model))
    return [node.name or node.op_type for node in model.graph.node
            if node.op_type in FP32_OPS and (node.name or node.op_type) not in region]


def is_fp16_graph(model) -> bool:
    """True when the graph's first input is fp16 (an FP16-typed graph from this module)."""
    _, FLOAT16 = _float_types()
    return model.graph.input[0].type.tensor_type.elem_type == FLOAT16


def _copy(model):
    import onnx
    copied = onnx.ModelProto()
    copied.CopyFrom(model)
    return copied


def _elem_types(model) -> dict[str, int]:
    """Element type of every tensor the graph declares or shape inference can tell."""
    import onnx
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception as exc:  # inference is a help, not a requirement
        log.debug("shape inference failed (%s); using the declared types only", exc)
        inferred = model
    graph = inferred.graph
    types = {v.name: v.type.tensor_type.elem_type for v in [*graph.input, *graph.output, *graph.value_info]}
    types.update({init.name: init.data_type for init in graph.initializer})
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            types[node.output[0]] = node.attribute[0].t.data_type
        elif node.op_type == "Cast":
            types[node.output[0]] = _cast_to(node)
    return types


def _constant_is_float(node) -> bool:
    FLOAT, _ = _float_types()
    return bool(node.attribute) and node.attribute[0].name == "value" and node.attribute[0].t.data_type == FLOAT


def _cast_to(node) -> int:
    return next(a.i for a in node.attribute if a.name == "to")


def _set_cast_to(node, to: int) -> None:
    for attribute in node.attribute:
        if attribute.name == "to":
            attribute.i = to


def _set_precision(model, precision: str) -> None:
    for prop in model.metadata_props:
        if prop.key == "fmsmi.precision":
            prop.value = precision
            return
    entry = model.metadata_props.add()
    entry.key, entry.value = "fmsmi.precision", precision
