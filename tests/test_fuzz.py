"""Fuzzing the input path (container open + decode loop) with byte mutations of small valid
clips, under hypothesis.

Each mutated file goes through ``corpus.decode_everything`` (probe, the export's decoder to
the end, the player's source with RGBA conversion and a seek) in its own forked process
(tests/forkrun.py): a crash inside libav kills only that child and shows up here as a
failure with the signal, a hang as a time-out; an exception other than InputError comes
back as a traceback. The pytest process itself never runs the decoder on fuzzed bytes.

Bounded for CI: ``FMSMI_FUZZ_EXAMPLES`` hypothesis examples (default 100) of 4 files each,
~20 s here. Raise it for a longer hunt, e.g. ``FMSMI_FUZZ_EXAMPLES=5000``. No example
database is written (``database=None``); a failure prints the mutations that reproduce it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("hypothesis", reason="needs hypothesis: pip install '.[test]'")

from corpus import find_box
from forkrun import ForkServer, Job, child_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from media import make_clip

EXAMPLES = int(os.environ.get("FMSMI_FUZZ_EXAMPLES", "100"))
FILES_PER_EXAMPLE = 4
TIME_LIMIT = 30.0             # seconds per file: a decode of these takes ~30 ms
# values that break size and count fields
INTERESTING = [b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x80\x00\x00\x00",
               b"\x00\x00\x00\x01", b"\x00\x00\x01\x00", b"\xff", b"\x00"]


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> dict[str, tuple[bytes, tuple[int, int]]]:
    """name -> (bytes, header region): an MP4 with H.264 + AAC (region: the moov box) and a
    Matroska file with H.264 (region: the first 700 bytes: EBML header, info, tracks)."""
    folder = tmp_path_factory.mktemp("seeds")
    mp4 = make_clip(folder / "seed.mp4", frames=8, audio=True).path.read_bytes()
    mkv = make_clip(folder / "seed.mkv", frames=8).path.read_bytes()
    moov, size = find_box(mp4, b"moov")
    return {"mp4": (mp4, (moov, moov + size)), "mkv": (mkv, (0, 700))}


@pytest.fixture(scope="module")
def server():
    with ForkServer(["av", "numpy", "fmsmi.player.media", "fmsmi.player.live.source", "corpus"],
                    env=child_env()) as server:
        yield server


edit = st.tuples(
    st.sampled_from(["flip", "overwrite", "interesting", "insert", "delete", "duplicate", "truncate"]),
    st.booleans(),                                    # True: aim at the header region
    st.floats(min_value=0.0, max_value=1.0, allow_nan=False),
    st.binary(min_size=1, max_size=16),
    st.sampled_from(INTERESTING),
    st.integers(min_value=1, max_value=512),
)
mutation = st.tuples(st.sampled_from(["mp4", "mkv"]), st.lists(edit, min_size=1, max_size=6))


def mutate(data: bytes, region: tuple[int, int], edits) -> bytes:
    out = bytearray(data)
    for op, in_header, where, payload, value, length in edits:
        if not out:
            break
        low, high = region if in_header else (0, len(out))
        high = min(high, len(out))
        low = min(low, high - 1) if high > 0 else 0
        at = low + int(where * max(0, high - low - 1))
        if op == "flip":
            out[at] ^= 1 << (payload[0] % 8)
        elif op == "overwrite":
            out[at:at + len(payload)] = payload
        elif op == "interesting":
            out[at:at + len(value)] = value
        elif op == "insert":
            out[at:at] = payload
        elif op == "delete":
            del out[at:at + length]
        elif op == "duplicate":
            out[at:at] = out[max(0, at - length):at]
        else:
            del out[at:]
    return bytes(out)


def test_mutations_change_the_bytes(seeds):
    data, region = seeds["mp4"]
    edits = [("interesting", True, 0.5, b"\x01", b"\xff\xff\xff\xff", 1)]
    changed = mutate(data, region, edits)
    at = region[0] + int(0.5 * (region[1] - region[0] - 1))      # aimed inside the moov box
    assert changed[at:at + 4] == b"\xff\xff\xff\xff" and len(changed) == len(data)
    assert changed[:at] == data[:at] and changed[at + 4:] == data[at + 4:]


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batch=st.lists(mutation, min_size=FILES_PER_EXAMPLE, max_size=FILES_PER_EXAMPLE))
def test_decoding_mutated_clips_never_crashes_or_hangs(seeds, server, tmp_path_factory, batch):
    folder = Path(tmp_path_factory.mktemp("fuzz", numbered=True))
    jobs = []
    for index, (seed, edits) in enumerate(batch):
        data, region = seeds[seed]
        path = folder / f"{index}.{seed}"
        path.write_bytes(mutate(data, region, edits))
        jobs.append(Job([str(path)], call="corpus:decode_everything", timeout=TIME_LIMIT, label=path.name))
    for job, result in zip(jobs, server.run(jobs, parallel=2)):
        assert not result.timed_out, result.describe()
        assert result.returncode == 0, result.describe()      # -N: killed by signal N (a crash in libav)
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
