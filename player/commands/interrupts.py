"""Ctrl-C for the long-running commands: the first one stops cleanly, later ones do not
interrupt the clean-up.

Python turns every SIGINT into a KeyboardInterrupt wherever the main thread happens to be:
a second Ctrl-C lands in the first one's clean-up (joining the worker threads, removing the
partial output) or in the interpreter's exit, and ends with a traceback and, at worst, a
partial file left behind. ``graceful_interrupts()`` raises KeyboardInterrupt for the first
SIGINT only; further ones are counted, and the fourth (clean-up stuck?) runs ``force`` and
ends the process at once with status 130, as ffmpeg does after repeated signals; during the
interpreter's own exit they are ignored (Python restores the default action there). The
handler stays installed after an interrupt (the process is on its way out); a run that
ends otherwise gets the previous handler back. Only the main thread can do this: elsewhere
it does nothing.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator

FORCE_AFTER = 4     # SIGINTs in all: the fourth exits at once


@contextlib.contextmanager
def graceful_interrupts(label: str, force: Callable[[], None] = lambda: None) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = 0

    def on_sigint(signum, frame) -> None:
        nonlocal received
        received += 1
        if received == 1:
            # Python puts back SIG_DFL when it finalizes: a Ctrl-C in the last milliseconds of
            # the exit would kill the process (status -SIGINT instead of 130). Ignore them then.
            atexit.register(signal.signal, signal.SIGINT, signal.SIG_IGN)
            raise KeyboardInterrupt
        if received >= FORCE_AFTER:
            with contextlib.suppress(Exception):
                force()
            print(f"{label}: interrupted {received} times: stopped without cleaning up", file=sys.stderr)
            os._exit(130)

    previous = signal.signal(signal.SIGINT, on_sigint)
    if previous is None:                    # installed outside Python: Python's default is the closest
        previous = signal.default_int_handler
    try:
        yield
    except KeyboardInterrupt:
        raise                               # keep counting: the clean-up and the exit still run
    except BaseException:
        signal.signal(signal.SIGINT, previous)
        raise
    signal.signal(signal.SIGINT, previous)
