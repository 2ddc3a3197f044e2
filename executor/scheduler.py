"""The executor's scheduler: a pure state machine saying which steps may start now.

Feed it events (`started`, `finished`, `interrupt`); take its answers with the
one consuming call, `next_actions()`: which steps to start, which running ones
to cancel (and why), which hosts have no step left (their connections can
close), which steps it ended itself (on a host already unreachable, handlers
not needed), and whether the run is over. Every other call is a query that
changes nothing: `results()`, `outcome()`, `interrupted`, `extra_env()`. It
knows nothing of trio, clocks, SSH or retries: apply.py carries out its answers
and reports each step's final status once.

The rules it keeps:
- A task's steps start only once every task in its `after` has finished (all of
  its steps ended, whatever their status). A composite (no steps) finishes as
  soon as its `after` have. `after` entries naming handler tasks are ignored.
- At most `Task.parallel` steps of a task run at once (0: no limit), started in
  step order; 1 is one host after another.
- failed, timed_out and unreachable are failures; `on_error` decides what a
  failure of its task does. "stop": nothing new starts, running steps finish,
  the rest is skipped. "continue": recorded, the run goes on, dependents too.
  "handler": as "stop", then, once no ordinary step is running, the handler
  task's steps run for the hosts where the task failed (its host-less step
  whenever the task failed), with ESSH_FAILED_TASK and ESSH_FAILED_HOSTS set,
  and the run ends. With `fail_fast`, any failure stops the run as "stop" does
  and running ordinary steps are to be cancelled (handlers still run).
- Rolling limits. `batch`: a task's steps run in waves (sizes from the list,
  the last repeating; "N%" of the task's steps, at least 1); a wave's steps
  start only once every step of the waves before has ended, and `parallel`
  still bounds each wave. `max_failures` (or `max_failures_percent`, of the
  task's steps, rounded down): that many failures of the task are tolerated
  (the run goes on as with "continue"); the next one closes the task: its
  pending steps are skipped with that reason, and the failure then counts as
  `on_error` says ("continue": only this task stops). `fail_fast` ignores it.
  A step counts once, with its final attempt's status (after retries).
- Once a host could not be reached, its later steps end `unreachable` with the
  same reason when their turn comes, without a new connection attempt. A
  connection that broke after it was made (`host_down=False`) only ends its step.
- `interrupt()` (Ctrl-C): the first stops new starts (handlers included), the
  second (or one with `cancel_running`: SIGTERM, SIGHUP) asks for every running
  step to be cancelled.
"""

from __future__ import annotations

from typing import NamedTuple

import msgspec

from essh.schema import FailureKind, Plan, StepStatus

Pair = tuple[str, str]

_PENDING, _RUNNING, _DONE = 0, 1, 2
_FAILURES = frozenset({"failed", "timed_out", "unreachable"})
# "skipped" after a start: the step found it had nothing to do (apply --once on a host that had the plan)
_FINISHED = frozenset({"succeeded", "failed", "unreachable", "timed_out", "cancelled", "skipped"})
_DESCRIBE = {"failed": "failed on", "timed_out": "timed out on", "unreachable": "could not reach"}


def waves(batch: tuple[int | str, ...], n: int) -> list[int]:
    """The sizes of the waves `batch` makes of `n` steps (they sum to n)."""
    sizes: list[int] = []
    left = n
    while left > 0:
        size = batch[min(len(sizes), len(batch) - 1)]
        if isinstance(size, str):
            size = max(1, int(float(size[:-1]) * n / 100))
        sizes.append(min(size, left))
        left -= sizes[-1]
    return sizes


def tolerated_failures(task, n: int) -> int | None:
    """How many of a task's `n` steps may fail before it closes; None: no max_failures."""
    if task.max_failures is not None:
        return task.max_failures
    if task.max_failures_percent is not None:
        return int(task.max_failures_percent * n / 100)
    return None


class SchedulerMisuse(Exception):
    """The caller broke the scheduler's protocol (a bug in essh, not in the plan)."""


class Outcome(NamedTuple):
    """How a step ended: its status and, unless it succeeded, why (in words and as a kind)."""

    status: StepStatus
    error: str | None = None
    kind: FailureKind | None = None


class Actions(msgspec.Struct):
    """What the caller must do now (see `Scheduler.next_actions`)."""

    start: list[int] = msgspec.field(default_factory=list)  # call started(step), then run it
    cancel: list[int] = msgspec.field(default_factory=list)  # running steps to cancel, each named once
    cancel_reason: str = "cancelled"
    release: list[int] = msgspec.field(default_factory=list)  # hosts with no step left, each named once
    ended: list[int] = msgspec.field(default_factory=list)  # steps the scheduler ended itself; see outcome()
    done: bool = False  # nothing runs and nothing can start: the run is over


class Scheduler:
    """What may run now, for one apply of `plan`."""

    def __init__(self, plan: Plan, *, fail_fast: bool = False) -> None:
        self._plan = plan
        self._fail_fast = fail_fast
        tasks, steps = plan.tasks, plan.steps
        n_tasks, n_hosts = len(tasks), len(plan.hosts)
        self._is_handler = [t.role == "handler" for t in tasks]
        self._handler_of = [t.handler if t.on_error == "handler" else None for t in tasks]
        self._task_steps: list[list[int]] = [[] for _ in tasks]
        self._handler_steps_on: dict[tuple[int, int | None], list[int]] = {}
        self._pending_ordinary = [0] * n_hosts
        self._pending_handler = [0] * n_hosts
        self._running_on = [0] * n_hosts
        for i, step in enumerate(steps):
            self._task_steps[step.task].append(i)
            if self._is_handler[step.task]:
                self._handler_steps_on.setdefault((step.task, step.host), []).append(i)
                if step.host is not None:
                    self._pending_handler[step.host] += 1
            elif step.host is not None:
                self._pending_ordinary[step.host] += 1
        self._phase = bytearray(len(steps))
        self._outcome: list[Outcome | None] = [None] * len(steps)
        self._next = [0] * n_tasks  # first step of the task that may still be pending
        self._running_in = [0] * n_tasks
        self._unresolved = [len(s) for s in self._task_steps]
        self._failed_hosts: list[list[int | None]] = [[] for _ in tasks]
        self._dependents: list[list[int]] = [[] for _ in tasks]
        self._waiting = [0] * n_tasks
        for t, task in enumerate(tasks):
            for dep in sorted(set(task.after)):
                if not self._is_handler[dep] and not self._is_handler[t]:
                    self._dependents[dep].append(t)
                    self._waiting[t] += 1
        self._active: set[int] = set()  # ordinary tasks whose `after` have finished, with steps left
        self._running: set[int] = set()
        self._running_ordinary = 0
        self._running_handlers = 0
        self._unreachable: dict[int, tuple[str, FailureKind | None]] = {}
        self._stop_reason: str | None = None
        self._triggered: list[int] = []  # handler tasks to run, in the order their tasks failed
        self._settled = False
        self._interrupts = 0
        self._fail_fast_tripped = False
        self._used: set[int] = set()  # hosts that had a step started
        self._released: set[int] = set()
        self._dirty_hosts: set[int] = set()
        self._offered: dict[int, None] | None = None  # startable steps, in order; None: to compute
        self._resolved = 0  # how many steps have ended so far
        self._ended_here: list[int] = []  # steps ended by the scheduler itself, not yet told
        self._cancel_told: set[int] = set()
        self._tolerate = [tolerated_failures(t, len(self._task_steps[i])) for i, t in enumerate(tasks)]
        self._wave = [0] * n_tasks  # the wave of each batched task that may run now
        self._wave_of: dict[int, int] = {}  # step -> its wave, for batched tasks
        self._wave_left: list[list[int]] = [[] for _ in tasks]  # per batched task: steps not ended, per wave
        for t, task in enumerate(tasks):
            if task.batch and not self._is_handler[t]:
                ids = self._task_steps[t]
                self._wave_left[t] = waves(task.batch, len(ids))
                wave_ids = [w for w, size in enumerate(self._wave_left[t]) for _ in range(size)]
                self._wave_of.update(zip(ids, wave_ids))
        self._make_ready([t for t in range(n_tasks) if not self._is_handler[t] and self._waiting[t] == 0])

    # -- the one consuming call -----------------------------------------------------------

    def next_actions(self) -> Actions:
        """What to do now. Each cancel, release and self-ended step is named once;
        the steps to start stay offered until `started()` takes them."""
        actions = Actions(start=list(self._current_offer()))
        if self._interrupts >= 2:
            running = self._running
        elif self._fail_fast_tripped:
            running = {i for i in self._running if not self._is_handler[self._plan.steps[i].task]}
        else:
            running = set()
        actions.cancel = sorted(running - self._cancel_told)
        self._cancel_told.update(actions.cancel)
        if actions.cancel:
            actions.cancel_reason = self._cancel_reason()
        actions.release = self._hosts_done()
        actions.ended, self._ended_here = self._ended_here, []
        actions.done = self._running_ordinary == 0 and self._running_handlers == 0 and not actions.start
        return actions

    # -- queries (they change nothing) ---------------------------------------------------

    @property
    def interrupted(self) -> bool:
        return self._interrupts > 0

    def extra_env(self, step: int) -> tuple[Pair, ...]:
        """Environment known only at apply time: for a handler's step, what failed where."""
        task = self._plan.tasks[self._plan.steps[step].task]
        if task.role != "handler" or task.handles is None:
            return ()
        names = [self._plan.hosts[h].name for h in sorted(h for h in self._failed_hosts[task.handles] if h is not None)]
        return (("ESSH_FAILED_TASK", self._plan.tasks[task.handles].name), ("ESSH_FAILED_HOSTS", " ".join(names)))

    def outcome(self, step: int) -> Outcome | None:
        """How `step` ended, or None while it has not."""
        return self._outcome[step]

    def results(self) -> list[Outcome | None]:
        """Every step's outcome, in step order: steps never started are `skipped` with
        the reason; steps still running (only if asked before `done()`) are None."""
        out: list[Outcome | None] = []
        for i, outcome in enumerate(self._outcome):
            if outcome is None and self._phase[i] == _PENDING:
                outcome = Outcome("skipped", self._skip_reason(i))
            out.append(outcome)
        return out

    # -- internals used by next_actions -------------------------------------------------

    def _current_offer(self) -> dict[int, None]:
        while self._offered is None:
            # resolving steps on unreachable hosts may finish tasks and free others: repeat
            seen = self._resolved
            offered = self._compute_startable()
            if self._resolved == seen:
                self._offered = dict.fromkeys(offered)
        return self._offered

    def _cancel_reason(self) -> str:
        if self._interrupts >= 2:
            return "cancelled: interrupted"
        return f"cancelled: {self._stop_reason.removeprefix('not run: ')}" if self._stop_reason else "cancelled"

    def _hosts_done(self) -> list[int]:
        winding = self._stop_reason is not None
        done = []
        for h in sorted(self._dirty_hosts):
            if (
                h in self._used
                and h not in self._released
                and self._running_on[h] == 0
                and (winding or self._pending_ordinary[h] == 0)
                and (self._pending_handler[h] == 0 or self._interrupts)
            ):
                self._released.add(h)
                done.append(h)
        self._dirty_hosts.clear()
        return done

    # -- events ----------------------------------------------------------------------------

    def started(self, step: int) -> None:
        """`step`, offered by `next_actions().start`, has been started."""
        offered = self._current_offer()
        if step not in offered:
            raise SchedulerMisuse(f"step {step} is not startable now; start only what next_actions() offers")
        del offered[step]
        self._phase[step] = _RUNNING
        self._running.add(step)
        task, host = self._plan.steps[step].task, self._plan.steps[step].host
        self._running_in[task] += 1
        if self._is_handler[task]:
            self._running_handlers += 1
        else:
            self._running_ordinary += 1
        if host is not None:
            self._running_on[host] += 1
            self._used.add(host)
            self._dirty_hosts.add(host)

    def finished(
        self,
        step: int,
        status: StepStatus,
        error: str | None = None,
        kind: FailureKind | None = None,
        *,
        host_down: bool = True,
    ) -> None:
        """`step` has ended with `status` (its final attempt's), `error` and `kind` saying why if it failed.

        An `unreachable` step marks its host down (its later steps end at once)
        unless `host_down` is False: a connection that broke after it was made."""
        if status not in _FINISHED:
            raise SchedulerMisuse(f"finished({step}, {status!r}): status must be one of {sorted(_FINISHED)}")
        if self._phase[step] != _RUNNING:
            raise SchedulerMisuse(f"finished({step}) for a step that is not running; call started() first")
        self._running.discard(step)
        task, host = self._plan.steps[step].task, self._plan.steps[step].host
        self._running_in[task] -= 1
        if self._is_handler[task]:
            self._running_handlers -= 1
        else:
            self._running_ordinary -= 1
        if host is not None:
            self._running_on[host] -= 1
        if status == "unreachable" and host is not None and host_down:
            self._unreachable.setdefault(host, (error or "unreachable", kind))
        self._end(step, Outcome(status, error, kind))

    def interrupt(self, *, cancel_running: bool = False) -> bool:
        """Ctrl-C: the first stops new starts; from the second on (or with
        `cancel_running`), the running steps are to be cancelled too. Returns
        whether they now are (see `next_actions().cancel`)."""
        self._interrupts += 2 if cancel_running and not self._interrupts else 1
        self._stop("not run: interrupted")
        self._dirty_hosts.update(self._used)  # pending handler steps will not run either
        self._offered = None
        return self._interrupts >= 2

    # -- internals -------------------------------------------------------------------------

    def _compute_startable(self) -> list[int]:
        if self._interrupts:
            return []
        if self._stop_reason is None:
            return self._startable_ordinary()
        if self._running_ordinary:
            return []
        self._settle()
        return self._startable_handlers()

    def _startable_ordinary(self) -> list[int]:
        offered: list[int] = []
        for t in sorted(self._active):
            ids = self._task_steps[t]
            k = self._next[t]
            while k < len(ids) and self._phase[ids[k]] != _PENDING:
                k += 1
            self._next[t] = k
            offered += self._offer(t, k)
            if self._stop_reason is not None:
                return []  # an unreachable step resolved by _offer stopped the run
        return sorted(offered)

    def _startable_handlers(self) -> list[int]:
        return sorted(s for ht in self._triggered for s in self._offer(ht, 0))

    def _offer(self, task: int, k: int) -> list[int]:
        """Pending steps of `task` from its k-th on, as many as its parallel limit allows;
        steps on an unreachable host met on the way end `unreachable` at once."""
        ids = self._task_steps[task]
        room = (self._plan.tasks[task].parallel or len(ids)) - self._running_in[task]
        offered = []
        while k < len(ids) and room > 0:
            s = ids[k]
            k += 1
            if self._phase[s] != _PENDING:
                continue
            wave = self._wave_of.get(s)
            if wave is not None and wave > self._wave[task]:
                break  # a later wave: once the current one has ended
            host = self._plan.steps[s].host
            if host is not None and host in self._unreachable:
                self._end(s, Outcome("unreachable", *self._unreachable[host]))
                if self._stop_reason is not None and not self._is_handler[task]:
                    break
                continue
            offered.append(s)
            room -= 1
        return offered

    def _settle(self) -> None:
        """The run is stopping and no ordinary step runs: decide every handler step."""
        if self._settled:
            return
        self._settled = True
        self._dirty_hosts.update(self._used)
        for ht, task in enumerate(self._plan.tasks):
            if not self._is_handler[ht]:
                continue
            failed = set(self._failed_hosts[task.handles]) if ht in self._triggered else set()
            for s in self._task_steps[ht]:
                host = self._plan.steps[s].host
                if self._phase[s] == _PENDING and not (failed and (host is None or host in failed or None in failed)):
                    self._end(s, Outcome("skipped", "handler not needed"))

    def _make_ready(self, ready: list[int]) -> None:
        """Tasks whose `after` have all finished: active, or (no steps left) finished in turn."""
        while ready:
            t = ready.pop()
            if self._unresolved[t]:
                self._active.add(t)
            else:
                ready += self._freed_by(t)

    def _freed_by(self, t: int) -> list[int]:
        """`t` has finished: its dependents waiting for nothing else."""
        freed = []
        for d in self._dependents[t]:
            self._waiting[d] -= 1
            if self._waiting[d] == 0:
                freed.append(d)
        return freed

    def _end(self, step: int, outcome: Outcome) -> None:
        """Record `step`'s outcome and apply what follows from it."""
        self._offered = None
        self._resolved += 1
        if self._phase[step] == _PENDING:
            self._ended_here.append(step)
        self._phase[step] = _DONE
        self._outcome[step] = outcome
        s = self._plan.steps[step]
        task, host = s.task, s.host
        if host is not None:
            self._dirty_hosts.add(host)
            if self._is_handler[task]:
                self._pending_handler[host] -= 1
            else:
                self._pending_ordinary[host] -= 1
        self._unresolved[task] -= 1
        wave = self._wave_of.get(step)
        if wave is not None:
            left = self._wave_left[task]
            left[wave] -= 1
            while self._wave[task] < len(left) - 1 and left[self._wave[task]] == 0:
                self._wave[task] += 1
        if self._is_handler[task]:
            return
        handler = self._handler_of[task]
        if outcome.status in _FAILURES:
            self._failed_hosts[task].append(host)
            self._on_failure(task, host, outcome.status)
        elif handler is not None and outcome.status != "skipped":
            self._handler_not_needed(handler, host)
        if self._unresolved[task] == 0:
            self._active.discard(task)
            if handler is not None and not self._failed_hosts[task]:
                for h_step in self._task_steps[handler]:
                    if self._phase[h_step] == _PENDING:
                        self._end(h_step, Outcome("skipped", "handler not needed"))
            self._make_ready(self._freed_by(task))

    def _handler_not_needed(self, handler: int, host: int | None) -> None:
        if host is None:
            return
        for h_step in self._handler_steps_on.get((handler, host), ()):
            if self._phase[h_step] == _PENDING:
                self._end(h_step, Outcome("skipped", "handler not needed"))

    def _on_failure(self, task: int, host: int | None, status: str) -> None:
        t = self._plan.tasks[task]
        where = "locally" if host is None else self._plan.hosts[host].name
        what = f"{_DESCRIBE[status]} {where}" if host is not None else f"{status.replace('_', ' ')} locally"
        limit = self._tolerate[task]
        if limit is not None and not self._fail_fast:
            failed = len(self._failed_hosts[task])
            if failed <= limit:
                return  # tolerated
            what = f"failed on {failed} hosts, more than max_failures={limit}"
            for s in self._task_steps[task]:
                if self._phase[s] == _PENDING:
                    self._end(s, Outcome("skipped", f"not run: task '{t.name}' {what}"))
        if self._fail_fast:
            self._fail_fast_tripped = True
            self._stop(f"not run: task '{t.name}' {what} (--fail-fast)")
        elif t.on_error != "continue":
            self._stop(f"not run: task '{t.name}' {what} (on_error={t.on_error})")
        handler = self._handler_of[task]
        if handler is not None and handler not in self._triggered and self._stop_reason is not None:
            self._triggered.append(handler)

    def _stop(self, reason: str) -> None:
        if self._stop_reason is None:
            self._stop_reason = reason
            self._dirty_hosts.update(self._used)

    def _skip_reason(self, step: int) -> str:
        s = self._plan.steps[step]
        if s.host is not None and s.host in self._unreachable:
            return f"not run: host {self._plan.hosts[s.host].name} was unreachable: {self._unreachable[s.host][0]}"
        if self._is_handler[s.task]:
            return "not run: interrupted" if s.task in self._triggered and self._interrupts else "handler not needed"
        return self._stop_reason or "not run: the run ended before its turn"
