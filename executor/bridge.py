"""The one bridge between trio and asyncio: trio runs as a guest inside an asyncio loop.

asyncssh is asyncio-only. Rather than adapting every asyncio call (trio-asyncio
cost about 1.7x the client CPU here), the asyncio loop is the host and trio
runs inside it in guest mode (`trio.lowlevel.start_guest_run`), so asyncssh
runs natively and trio code crosses over only through `aio`, once per
connection or channel, not per byte (about 1.05x, see /work/shared/NOTES.md).

    result = run(main, plan)          # sync entry point
    conn = await aio(asyncssh.connect(...))   # inside trio: await asyncio work
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import trio

T = TypeVar("T")


def run(async_fn: Callable[..., Awaitable[T]], *args: Any, install_signal_handlers: bool = True) -> T:
    """Run `async_fn(*args)` under trio, hosted by a new asyncio loop; return or raise its outcome.

    With `install_signal_handlers`, trio's usual Ctrl-C handling applies (KeyboardInterrupt
    raised inside trio); the caller may install its own handlers instead.
    """
    loop = asyncio.new_event_loop()
    try:
        outcome = loop.run_until_complete(_host(loop, async_fn, args, install_signal_handlers))
        # Whatever trio left running on the asyncio side (nothing, normally) is cancelled.
        _cancel_leftovers(loop)
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()
    return outcome.unwrap()


async def _host(loop: asyncio.AbstractEventLoop, async_fn: Callable[..., Awaitable[Any]], args: tuple, signals: bool):
    done: asyncio.Future = loop.create_future()

    def finished(outcome: Any) -> None:
        if not done.done():
            done.set_result(outcome)

    def start() -> None:
        trio.lowlevel.start_guest_run(
            async_fn,
            *args,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            run_sync_soon_not_threadsafe=loop.call_soon,
            done_callback=finished,
            # Ctrl-C is delivered at trio checkpoints, never inside asyncssh's code.
            restrict_keyboard_interrupt_to_checkpoints=True,
        )

    if signals or threading.current_thread() is not threading.main_thread():
        start()
    else:
        # trio installs its SIGINT handler only over Python's default one, and
        # only while starting: hide the default for that moment and trio leaves
        # SIGINT to the caller.
        original = signal.getsignal(signal.SIGINT)
        signal.signal(signal.SIGINT, _not_default_int_handler)
        try:
            start()
        finally:
            signal.signal(signal.SIGINT, original)
    return await done


def _not_default_int_handler(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


async def aio(awaitable: Awaitable[T]) -> T:
    """From trio, await an asyncio coroutine or future running on the host loop.

    If the trio side is cancelled, the asyncio task is cancelled and awaited
    (its clean-up runs to the end) before trio's Cancelled propagates.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        if asyncio.iscoroutine(awaitable):
            awaitable.close()
        raise RuntimeError("aio() needs trio running as an asyncio guest: start it with bridge.run(), not trio.run()") from None
    future = asyncio.ensure_future(awaitable, loop=loop)
    if not future.done():
        token = trio.lowlevel.current_trio_token()
        finished = trio.Event()
        future.add_done_callback(lambda _: token.run_sync_soon(finished.set))
        try:
            await finished.wait()
        except BaseException:
            future.cancel()
            with trio.CancelScope(shield=True):
                await finished.wait()
            raise
    return future.result()
