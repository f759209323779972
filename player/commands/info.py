"""``fmsmi info``: versions, and which backends run here (or the one-line reason why not)."""

from __future__ import annotations

import argparse
import importlib.metadata
import platform


def register(subparsers) -> None:
    parser = subparsers.add_parser("info", help="versions and the backends usable on this machine")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(run=run)


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def collect() -> dict:
    from fmsmi.engine import backends
    from fmsmi.engine.op import native_unavailable_reason
    from fmsmi.engine.op.cuda import unavailable_reason as cuda_op_reason

    versions = {"fmsmi": _version("fmsmi"), "python": platform.python_version()}
    for distribution in ("torch", "numpy", "av", "glfw", "PyOpenGL", "onnx", "tensorrt",
                         "tensorrt-lean-cu13", "pycuda"):
        versions[distribution] = _version(distribution)
    native = {"cpu-op": native_unavailable_reason(), "cuda-op": cuda_op_reason()}
    if native["cpu-op"] is None:
        from fmsmi.engine.op.native import build_info
        native["cpu-op-build"] = build_info()
    return {"versions": versions, "native": native, "backends": backends.availability()}


def run(args: argparse.Namespace) -> int:
    facts = collect()
    if args.json:
        import json
        print(json.dumps(facts, indent=2))
        return 0
    print("versions:")
    for name, version in facts["versions"].items():
        print(f"  {name:<20} {version}")
    print("native libraries:")
    for name, reason in facts["native"].items():
        if name.endswith("-build"):
            continue
        build = facts["native"].get(f"{name}-build")
        print(f"  {name:<20} {'ok' + (f' ({build})' if build else '') if reason is None else 'unavailable: ' + reason}")
    print("backends:")
    for name, reason in facts["backends"].items():
        print(f"  {name:<20} {'usable' if reason is None else 'unavailable: ' + reason}")
    return 0
