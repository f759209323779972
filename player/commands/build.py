"""``fmsmi build``: a TensorRT engine from an exported ONNX graph, into the engine cache.

The engine file is named after every build input (ONNX hash, profile, precision, TensorRT
version, GPU, compute capability) in ``$FMSMI_CACHE`` (default ``~/.cache/fmsmi/engines``);
the TRT backend finds it there. Without TensorRT or a GPU this fails with the one-line reason.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("build", help="build a TensorRT engine from an exported ONNX graph")
    parser.add_argument("--onnx", type=Path, required=True, metavar="MODEL.onnx", help="graph from `fmsmi export`")
    parser.add_argument("--min", metavar="WxH", help="smallest frame size (default 640x360)")
    parser.add_argument("--opt", metavar="WxH", help="size to tune for (default 1920x1080)")
    parser.add_argument("--max", metavar="WxH", help="largest frame size (default 3840x2160)")
    parser.add_argument("--timing-cache", type=Path, metavar="FILE",
                        help="TensorRT timing cache to read and update (default: one in the cache folder)")
    parser.add_argument("--cache-dir", type=Path, metavar="DIR",
                        help="engine cache folder (default: $FMSMI_CACHE or ~/.cache/fmsmi/engines)")
    precision = parser.add_mutually_exclusive_group()
    precision.add_argument("--fp16", dest="precision", action="store_const", const="fp16", help="FP16 engine (default)")
    precision.add_argument("--fp32", dest="precision", action="store_const", const="fp32", help="FP32 engine")
    parser.set_defaults(run=run, precision="fp16")


def _multiple(onnx_path: Path) -> int:
    """The model's stride from the graph's metadata (32, the largest, when absent)."""
    import onnx
    from fmsmi.errors import InputError

    try:
        model = onnx.load(str(onnx_path), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError and friends
        raise InputError(f"{onnx_path}: not a readable ONNX file ({type(exc).__name__}: {exc})") from exc
    props = {p.key: p.value for p in model.metadata_props}
    return int(props.get("fmsmi.multiple", 32))


def run(args: argparse.Namespace) -> int:
    from fmsmi.errors import InputError
    from fmsmi.export import trt_build

    sizes = {name: trt_build.parse_size(getattr(args, name), f"--{name}") if getattr(args, name) else None
             for name in ("min", "opt", "max")}
    if not args.onnx.is_file():
        raise InputError(f"--onnx {args.onnx}: file not found")
    trt_build.import_tensorrt()                  # the one-line reason, before reading anything big
    profile = trt_build.Profile.for_model(_multiple(args.onnx), **sizes)
    built = trt_build.build_engine(args.onnx, profile, args.precision, timing_cache=args.timing_cache,
                                   engine_dir=args.cache_dir)
    print(f"{'built' if built.rebuilt else 'cached'}: {built.path}")
    return 0
