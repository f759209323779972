"""``fmsmi export``: the network as an ONNX graph for TensorRT (fp32, or FP16-typed with --fp16).

Each AdaptiveSepConv call becomes one ``fmsmi::AdaptiveSepConv`` node; H and W of the
inputs must be multiples of the model's stride (lite 32, base 16), which the graph's
metadata (``fmsmi.multiple``) records. ``--check`` runs the graph in ONNX's reference
evaluator on two real frames and prints the PSNR against the PyTorch model.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fmsmi.engine.defaults import DEFAULT_MODEL

CHECK_SIZE = (256, 160)     # width x height of the --check crop (a multiple of every stride)


def register(subparsers) -> None:
    parser = subparsers.add_parser("export", help="export the network to ONNX (for TensorRT)")
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help=f"network config: fast, lite or base (default: {DEFAULT_MODEL})")
    parser.add_argument("--weights", type=Path, help="weights file (default: the shipped weights of --model)")
    parser.add_argument("--onnx", type=Path, required=True, metavar="OUT.onnx", help="file to write")
    parser.add_argument("--fp16", action="store_true",
                        help="write the FP16-typed graph (TensorRT 11 strongly typed networks)")
    parser.add_argument("--opset", type=int, default=18, metavar="N", help="ONNX opset (default: 18)")
    parser.add_argument("--check", action="store_true",
                        help="run the graph in onnx.reference on two real frames and print the PSNR "
                             "against PyTorch (targets: 50 dB fp32, 40 dB fp16)")
    parser.add_argument("--check-video", type=Path, metavar="VIDEO",
                        help="video to take the --check frames from (default: the bundled sample clip)")
    parser.set_defaults(run=run)


def _sample_video() -> Path | None:
    from importlib import resources

    path = Path(str(resources.files("fmsmi.player").joinpath("data", "sample_bbb_360p.mp4")))
    return path if path.is_file() else None


def _check_frames(video: Path | None):
    import logging

    from fmsmi.export.reference_eval import frames_from_video, synthetic_frames

    video = video or _sample_video()
    if video is None:
        logging.getLogger("fmsmi").warning("no sample video: --check uses a synthetic moving texture")
        return synthetic_frames(CHECK_SIZE), "a synthetic moving texture"
    return frames_from_video(video, CHECK_SIZE), str(video)


def run(args: argparse.Namespace) -> int:
    from fmsmi.engine.interpolator import build_network
    from fmsmi.export import onnx_export
    from fmsmi.export.fp16 import convert_to_fp16

    network, weights = build_network(args.model, args.weights)
    graph = onnx_export.export_onnx(network, opset=args.opset,
                                    metadata={"fmsmi.weights": onnx_export.weights_tag(weights)})
    if args.fp16:
        graph = convert_to_fp16(graph)
    onnx_export.save(graph, args.onnx)
    precision = "fp16" if args.fp16 else "fp32"
    print(f"wrote {args.onnx}: model {network.config.name}, {precision}, opset {args.opset}, "
          f"{len(onnx_export.sepconv_nodes(graph))} AdaptiveSepConv nodes, "
          f"H and W multiples of {network.config.multiple}")
    if not args.check:
        return 0
    from fmsmi.export.reference_eval import compare_with_torch

    (frame0, frame1), source = _check_frames(args.check_video)
    result = compare_with_torch(graph, network, frame0, frame1)
    print(f"check ({source}): {result}")
    return 0 if result.passed else 1
