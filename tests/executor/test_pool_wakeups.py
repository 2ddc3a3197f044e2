"""The pool's waiting room, without a network: each freed slot wakes one waiting step, not all of them."""

from __future__ import annotations

import trio
import trio.testing

from essh.executor.ssh_pool import SshTransport


def full_pool(slots: int) -> SshTransport:
    pool = SshTransport([], max_connections=slots, nonce="n")
    pool._opening = slots  # every slot is taken by a connection being opened
    return pool


def test_each_freed_slot_wakes_one_waiter_in_order():
    woken: list[int] = []

    async def main() -> None:
        pool = full_pool(2)

        async def waiter(i: int) -> None:
            await pool._make_room()
            pool._opening += 1  # what _open does next: the slot is taken
            woken.append(i)

        async with trio.open_nursery() as nursery:
            for i in range(50):
                nursery.start_soon(waiter, i)
                await trio.testing.wait_all_tasks_blocked()
            for _ in range(50):
                pool._opening -= 1  # a connection attempt ended
                pool._signal_capacity()
                await trio.testing.wait_all_tasks_blocked()
        assert pool.wakeups == 50  # waking everyone would have cost 50 + 49 + ... wake-ups

    trio.run(main)
    assert woken == list(range(50))


def test_a_cancelled_waiter_passes_its_wake_up_on():
    async def main() -> None:
        pool = full_pool(1)
        done: list[str] = []

        async def waiter(name: str) -> None:
            await pool._make_room()
            done.append(name)

        async with trio.open_nursery() as nursery:
            first = trio.CancelScope()

            async def cancelled() -> None:
                with first:
                    await waiter("first")

            nursery.start_soon(cancelled)
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(waiter, "second")
            await trio.testing.wait_all_tasks_blocked()
            first.cancel()  # "first" is cancelled, and before it runs ...
            pool._opening -= 1
            pool._signal_capacity()  # ... the freed slot's wake-up goes to it
            await trio.testing.wait_all_tasks_blocked()
        assert done == ["second"]

    trio.run(main)


def test_a_waiter_cancelled_while_asleep_leaves_the_queue():
    async def main() -> None:
        pool = full_pool(1)
        with trio.move_on_after(0.01):
            await pool._make_room()
        assert not pool._waiters

    trio.run(main)
