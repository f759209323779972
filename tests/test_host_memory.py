"""engine/host_memory.tune_malloc: the glibc options it sets, and a user's MALLOC_* winning."""

from __future__ import annotations

import sys

import pytest
from fmsmi.engine import host_memory


class FakeLibc:
    def __init__(self):
        self.calls: list[tuple[int, int]] = []

    def mallopt(self, option: int, value: int) -> int:
        self.calls.append((option, value))
        return 1


@pytest.fixture
def libc(monkeypatch):
    fake = FakeLibc()
    monkeypatch.setattr(host_memory.ctypes, "CDLL", lambda name: fake)
    monkeypatch.setattr(sys, "platform", "linux")
    for variable in ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
        monkeypatch.delenv(variable, raising=False)
    return fake


def test_sets_arenas_and_fixed_thresholds(libc):
    host_memory.tune_malloc()
    assert libc.calls == [(host_memory.M_ARENA_MAX, 2), (host_memory.M_MMAP_THRESHOLD, 256 << 20),
                          (host_memory.M_TRIM_THRESHOLD, 512 << 20)]
    # the trim threshold must stay above the mmap threshold, or freed frames go back to the kernel
    assert dict(libc.calls)[host_memory.M_TRIM_THRESHOLD] > dict(libc.calls)[host_memory.M_MMAP_THRESHOLD]


def test_a_users_malloc_variables_win(libc, monkeypatch):
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    host_memory.tune_malloc()
    assert libc.calls == [(host_memory.M_TRIM_THRESHOLD, 512 << 20)]


def test_nothing_outside_linux(libc, monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    host_memory.tune_malloc()
    assert libc.calls == []
