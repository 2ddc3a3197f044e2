"""Ctrl-C, SIGTERM and SIGHUP during an apply, delivered to trio code running as an asyncio guest.

`bridge.run(..., install_signal_handlers=False)` leaves SIGINT to us. The
asyncio host loop owns signal delivery (`loop.add_signal_handler`); each signal
is handed to the trio side with `TrioToken.run_sync_soon`, so the callback runs
inside trio, where it may cancel scopes and set events. Outside the main
thread nothing is installed (Python delivers signals to the main thread only).
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import trio

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def forward_signals(on_signal: Callable[[int], None]) -> Iterator[bool]:
    """While inside, SIGINT, SIGTERM and SIGHUP call `on_signal(signum)` in trio; yields whether installed.

    Call from trio code running as a guest of an asyncio loop (see bridge.run).
    """
    if threading.current_thread() is not threading.main_thread():
        yield False
        return
    loop = asyncio.get_running_loop()
    token = trio.lowlevel.current_trio_token()

    def deliver(signum: int) -> None:
        try:
            token.run_sync_soon(on_signal, signum)
        except trio.RunFinishedError:
            pass  # trio is finishing; nothing left to stop

    saved = {signum: signal.getsignal(signum) for signum in SIGNALS}
    installed = []
    try:
        for signum in SIGNALS:
            loop.add_signal_handler(signum, deliver, signum)
            installed.append(signum)
        yield True
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
            if saved[signum] is not None:  # asyncio resets to the default; put back the caller's
                signal.signal(signum, saved[signum])
