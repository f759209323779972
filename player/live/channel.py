"""A bounded, flushable queue between the pipeline's threads.

Each item is put with the *epoch* (pipeline generation) it belongs to. ``flush(epoch)``
empties the channel and moves it to a new epoch: producers blocked on a full channel wake
up, and any later ``put`` of an older epoch is refused (returns False) so that stale frames
of a pre-seek position never reach the display. A worker's failure is posted with
``fail`` and survives flushes: the consumer gets it before anything else.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class WorkerFailure:
    """An exception raised in a worker thread, on its way to the main thread."""

    stage: str
    error: BaseException


@dataclass(frozen=True)
class EndOfStream:
    epoch: int


class Channel:
    def __init__(self, capacity: int, name: str = "channel"):
        if capacity < 1:
            raise ValueError(f"capacity={capacity}: expected >= 1")
        self.capacity = capacity
        self.name = name
        self._items: deque = deque()
        self._cond = threading.Condition()
        self._epoch = 0
        self._closed = False
        self._failure: WorkerFailure | None = None

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item, epoch: int) -> bool:
        """Append ``item`` of ``epoch``, waiting while full; False when flushed past it or closed."""
        with self._cond:
            while len(self._items) >= self.capacity and epoch == self._epoch and not self._closed:
                self._cond.wait()
            if epoch != self._epoch or self._closed:
                return False
            self._items.append(item)
            self._cond.notify_all()
            return True

    def tail(self):
        """The last item queued (None when empty)."""
        with self._cond:
            return self._items[-1] if self._items else None

    def fail(self, failure: WorkerFailure) -> None:
        with self._cond:
            if self._failure is None:
                self._failure = failure
            self._cond.notify_all()

    def peek(self, timeout: float | None = None):
        """The head item (a WorkerFailure first), without removing it; None after ``timeout``
        seconds (None: wait as long as it takes) or once closed (what is left is abandoned)."""
        with self._cond:
            if timeout is None:
                while not (self._items or self._failure or self._closed):
                    self._cond.wait()
            elif not (self._items or self._failure or self._closed):
                self._cond.wait(timeout)
            if self._failure is not None:
                return self._failure
            if self._closed:
                return None
            return self._items[0] if self._items else None

    def get(self, timeout: float | None = None):
        """Remove and return the head item (see :meth:`peek`)."""
        with self._cond:
            head = self.peek(timeout)   # re-entrant: Condition uses an RLock
            if head is None or head is self._failure:
                return head
            self._items.popleft()
            self._cond.notify_all()
            return head

    def flush(self, epoch: int) -> None:
        with self._cond:
            self._items.clear()
            self._epoch = epoch
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
