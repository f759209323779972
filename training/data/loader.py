"""Batches deterministic per index, prepared ahead in a background thread.

Batch ``b`` of a run with seed ``s`` is drawn from ``numpy.random.default_rng([s, b])``:
it does not depend on what came before, so a run resumed at batch b sees exactly the
batches an uninterrupted run would, whatever was prefetched when it stopped.
"""

from __future__ import annotations

import queue
import threading
import weakref
from collections.abc import Iterator

import numpy as np
import torch

from .base import TripletSource, augment


def make_batch(source: TripletSource, seed: int, index: int, batch: int, size: int,
               augmentation: bool = True) -> torch.Tensor:
    rng = np.random.default_rng([seed, index])
    frames = source.sample_batch(rng, batch, size)
    return augment(frames, rng) if augmentation else frames


class BatchLoader:
    """Iterates (index, batch) from ``start``; ``prefetch`` batches are prepared in a thread
    (0: in the caller's thread). An exception in the thread is re-raised by the iterator."""

    def __init__(self, source: TripletSource, batch: int, size: int, seed: int, start: int = 0,
                 prefetch: int = 2, augmentation: bool = True):
        self.source, self.batch, self.size, self.seed = source, batch, size, seed
        self.next_index = start
        self.prefetch = prefetch
        self.augmentation = augmentation
        self._queue: queue.Queue | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _make(self, index: int) -> torch.Tensor:
        return make_batch(self.source, self.seed, index, self.batch, self.size, self.augmentation)

    def _work(self, start: int) -> None:
        # One OpenMP thread here (small ops; the training keeps the cores). This sets the
        # OpenMP count of this thread only, but also the default that threads initializing
        # torch later pick up: __iter__ initializes the consumer's thread first.
        torch.set_num_threads(1)
        index = start
        while not self._stop.is_set():
            try:
                item = (index, self._make(index))
            except Exception as exc:  # noqa: BLE001 - passed to the consumer, which re-raises it
                item = exc
            while not self._stop.is_set():
                try:
                    self._queue.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if isinstance(item, Exception):
                return
            index += 1

    def __iter__(self) -> Iterator[tuple[int, torch.Tensor]]:
        if self.prefetch <= 0:
            while True:
                index = self.next_index
                self.next_index += 1
                yield index, self._make(index)
        torch.get_num_threads()  # initializes this thread's OpenMP count before _work changes the default
        self._queue = queue.Queue(maxsize=self.prefetch)
        self._thread = threading.Thread(target=self._work, args=(self.next_index,), name="fmsmi-batches",
                                        daemon=True)
        self._thread.start()
        # Stop and join the thread at exit too: a daemon thread inside a torch op while the
        # interpreter shuts down aborts the process.
        weakref.finalize(self, _shutdown, self._stop, self._thread)
        try:
            while True:
                item = self._queue.get()
                if isinstance(item, Exception):
                    raise item
                self.next_index = item[0] + 1
                yield item
        finally:
            self.close()

    def close(self) -> None:
        if self._thread is not None:
            _shutdown(self._stop, self._thread)
            self._thread = None
        self._stop.set()


def _shutdown(stop: threading.Event, thread: threading.Thread) -> None:
    stop.set()
    thread.join(timeout=30)
