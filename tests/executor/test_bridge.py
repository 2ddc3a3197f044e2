"""The trio-in-asyncio bridge: results, errors, cancellation both ways, many concurrent calls."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest
import trio

from essh.executor.bridge import aio, run


def test_run_returns_and_raises():
    async def add(a: int, b: int) -> int:
        await trio.sleep(0)
        return a + b

    async def fail() -> None:
        raise LookupError("from trio")

    assert run(add, 2, 3) == 5
    with pytest.raises(LookupError, match="from trio"):
        run(fail)


def test_aio_result_and_exception_cross_over():
    async def doubled(x: int) -> int:
        await asyncio.sleep(0.001)
        return 2 * x

    async def broken() -> None:
        await asyncio.sleep(0)
        raise KeyError("asyncio side")

    async def main() -> int:
        with pytest.raises(KeyError, match="asyncio side"):
            await aio(broken())
        return await aio(doubled(21))

    assert run(main) == 42


def test_many_aio_calls_in_a_nursery():
    results: dict[int, int] = {}

    async def echo(i: int) -> int:
        await asyncio.sleep(0.01 * (i % 5))
        return i

    async def main() -> None:
        async def one(i: int) -> None:
            results[i] = await aio(echo(i))

        async with trio.open_nursery() as nursery:
            for i in range(2000):
                nursery.start_soon(one, i)

    run(main)
    assert results == {i: i for i in range(2000)}


def test_trio_cancel_cancels_the_asyncio_task_and_waits_for_its_cleanup():
    events: list[str] = []

    async def slow() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            events.append("asyncio cancelled")
            await asyncio.sleep(0.2)  # clean-up that takes a while
            events.append("asyncio cleaned up")
            raise

    async def main() -> bool:
        with trio.move_on_after(0.1) as scope:
            await aio(slow())
        events.append("trio moved on")
        return scope.cancelled_caught

    assert run(main)
    assert events == ["asyncio cancelled", "asyncio cleaned up", "trio moved on"]


def test_asyncio_side_cancellation_reaches_trio():
    async def main() -> None:
        task = asyncio.ensure_future(asyncio.sleep(60))
        asyncio.get_running_loop().call_later(0.05, task.cancel)
        await aio(task)

    with pytest.raises(asyncio.CancelledError):
        run(main)


def test_trio_keeps_running_while_asyncio_works():
    ticks = 0

    async def main() -> None:
        nonlocal ticks

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await trio.sleep(0.01)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ticker)
            await aio(asyncio.sleep(0.3))
            nursery.cancel_scope.cancel()

    run(main)
    assert ticks >= 10


def test_signal_handlers_left_to_the_caller_when_asked():
    async def handler_now():
        return signal.getsignal(signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)
    assert run(handler_now, install_signal_handlers=False) is before
    assert signal.getsignal(signal.SIGINT) is before
    assert run(handler_now) is not before  # trio's own KeyboardInterrupt handler
    assert signal.getsignal(signal.SIGINT) is before


def test_ctrl_c_raises_keyboard_interrupt_out_of_run():
    async def main() -> None:
        os.kill(os.getpid(), signal.SIGINT)
        await trio.sleep(5)

    with pytest.raises(KeyboardInterrupt):
        run(main)


def test_signal_receiver_works_inside_the_guest_run():
    async def main() -> list[int]:
        got = []
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGINT)
            with trio.fail_after(2):
                async for signum in signals:
                    got.append(signum)
                    if len(got) == 2:
                        break
        return sorted(got)

    assert run(main, install_signal_handlers=False) == sorted([signal.SIGINT, signal.SIGTERM])


def test_aio_outside_the_bridge_says_how_to_start():
    async def main() -> None:
        await aio(asyncio.sleep(0))

    with pytest.raises(RuntimeError, match=r"start it with bridge.run\(\)"):
        trio.run(main)
