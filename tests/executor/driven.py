"""A test driver around the scheduler's one consuming call, `next_actions()`.

It keeps what each call named once (cancels, released hosts, self-ended steps)
until a test asks for it, so tests can ask the older questions one by one:
what may start, what must be cancelled, which hosts are done, is it over.
"""

from __future__ import annotations

from essh.executor.scheduler import Actions, Scheduler


class Driven:
    def __init__(self, scheduler: Scheduler) -> None:
        self.s = scheduler
        self._cancel: list[int] = []
        self._release: list[int] = []
        self.ended: list[int] = []
        self._reason = "cancelled"

    def act(self) -> Actions:
        actions = self.s.next_actions()
        self._cancel += actions.cancel
        self._release += actions.release
        self.ended += actions.ended
        if actions.cancel:
            self._reason = actions.cancel_reason
        return actions

    def startable(self) -> list[int]:
        return self.act().start

    def done(self) -> bool:
        return self.act().done

    def to_cancel(self) -> set[int]:
        self.act()
        cancel, self._cancel = self._cancel, []
        return set(cancel)

    def cancel_reason(self) -> str:
        return self._reason

    def hosts_done(self) -> list[int]:
        self.act()
        release, self._release = self._release, []
        return release

    def __getattr__(self, name: str):
        return getattr(self.s, name)
