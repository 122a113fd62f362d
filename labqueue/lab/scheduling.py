"""Notebooks 04 and 05 helpers: delayed jobs against a live scheduler, cron in simulated time.

Redis structures: the DelayedQueue's sorted set `lq:{name}:delayed` (serialised job -> run-at),
its `waiting` list and `wake` list; the CronQueue's `cron` and `cron:last` hashes. The chapter's
race-prone cron step (`NaiveCronStep`) uses a plain string key it is given (GET, LPUSH, SET).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from ..cron import CronQueue, next_run, upcoming, zone
from ..delayed import DelayedQueue, Scheduler
from ..job import Job
from .driven import Driven, Feed
from .experiments import Producer, WorkerPool
from .frames import labelled
from .i18n import N_, _
from .live import Sampler

# -- notebook 04: planned vs actual start times ------------------------------------------------


CHAPTER_DELAYED_DIAGRAM = """\
Concept: Score = Unix timestamp when job should execute

Example:
Current time: 1670000000

ZADD queue:delayed 1670000060 job1  (execute in 60s)
ZADD queue:delayed 1670000120 job2  (execute in 120s)
ZADD queue:delayed 1670000030 job3  (execute in 30s)

queue:delayed (sorted by timestamp):
┌─────────────────────────────────────┐
│ Timestamp  │  Job                   │
├─────────────────────────────────────┤
│ 1670000030 │  job3 ← Ready now!     │
│ 1670000060 │  job1                  │
│ 1670000120 │  job2                  │
└─────────────────────────────────────┘

Scheduler checks periodically:
ZRANGEBYSCORE queue:delayed -inf now
  → Get jobs ready to execute
ZREM queue:delayed job3
  → Remove from delayed queue
LPUSH queue:ready job3
  → Add to ready queue
"""  # the chapter, section "Pattern 4: Delayed/Scheduled Jobs"

CHAPTER_BULL_CRON = """\
// the chapter, Bull: a repeated (cron-like) job
await emailQueue.add('daily-report', {
    type: 'report',
    recipients: ['admin@example.com']
}, {
    repeat: {
        cron: '0 9 * * *',  // Tous les jours à 9h
        tz: 'Europe/Paris'
    }
});

# the chapter, Python: schedule_daily computes ONE delay
now = datetime.now()          # the local time of the machine running it
scheduled_time = now.replace(hour=hour, minute=minute, ...)
if scheduled_time <= now:
    scheduled_time += timedelta(days=1)
delay_seconds = int((scheduled_time - now).total_seconds())
return self.enqueue(job_data, delay_seconds=delay_seconds)
"""


@dataclass
class Start:
    """A delayed job as planned (run_at) and as it happened (started, unix seconds)."""

    job_id: str
    planned: float
    started: float

    @property
    def late(self) -> float:
        return self.started - self.planned


class DelayExperiment(Driven):
    """A producer schedules `jobs` delayed jobs over `produce_seconds`; a scheduler promotes them.

    `interval=1.0` is the chapter's scheduler (look every second); `interval=None` is labqueue's,
    which sleeps in BRPOP on the wake list until the next job is due. Workers record when each job
    actually starts. Delays are drawn from a seeded generator between 0.1 s and `max_delay`.
    """

    def __init__(self, q: DelayedQueue, *, interval: float | None = None, jobs: int = 24,
                 rate: float = 16.0, max_delay: float = 1.5, workers: int = 2, seed: int = 0,
                 live: bool = True) -> None:
        super().__init__()
        self.q, self.interval = q, interval
        self.starts: list[Start] = []
        self.scheduler: Scheduler | None = None
        self._lock = threading.Lock()
        rng = random.Random(seed)
        feed = Feed(lambda data, job_id: q.enqueue(data, delay_seconds=round(rng.uniform(0.1, max_delay), 3),
                                                   job_id=job_id))
        self.producer = Producer(feed, jobs, rate, job_type="remind")
        self.pool = WorkerPool(q, {"remind": self._handle}, workers, poll_seconds=0.1)
        self.total = jobs
        # probe and counter names stay English (code reads them); the chart and the panel translate them
        self.sampler = Sampler({N_("delayed"): q.delayed_size, N_("waiting"): q.size, N_("started"): self.started,
                                N_("scheduler passes"): lambda: self.scheduler.passes if self.scheduler else 0},
                               title=_("polling every second") if interval else _("sleeping until the next due job"),
                               live=live)

    def setup(self) -> None:
        self.scheduler = self.q.start_scheduler(interval=self.interval)

    def teardown(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()

    def _handle(self, job: Job) -> None:
        with self._lock:
            self.starts.append(Start(job.id, float(job.run_at or job.enqueued_at), time.time()))

    def started(self) -> int:
        with self._lock:
            return len(self.starts)

    def progress(self) -> dict[str, int]:
        return {"completed": self.started(), N_("delayed"): self.q.delayed_size(),
                N_("scheduler passes"): self.scheduler.passes if self.scheduler else 0}

    def done(self) -> bool:
        """All jobs produced, none delayed or waiting, none in a worker's hands."""
        return (self.producer.done and self.q.delayed_size() == 0 and self.q.size() == 0
                and not self.pool.busy())

    def points(self) -> tuple[list[float], list[float]]:
        """Planned and actual start times, in seconds since the experiment started."""
        with self._lock:
            rows = sorted(self.starts, key=lambda s: s.planned)
        return ([s.planned - self.t0 for s in rows], [s.started - self.t0 for s in rows])

    def lateness(self) -> dict[str, float]:
        """Median and max lateness (seconds) and scheduler passes (labels in the lab's language)."""
        with self._lock:
            late = sorted(s.late for s in self.starts)
        passes = self.scheduler.passes if self.scheduler else 0
        if not late:
            return {_("median late (s)"): 0.0, _("max late (s)"): 0.0, _("scheduler passes"): passes}
        return {_("median late (s)"): round(late[len(late) // 2], 3), _("max late (s)"): round(late[-1], 3),
                _("scheduler passes"): passes}


# -- notebook 05: cron in simulated time -------------------------------------------------------


def dst_changes(tz: str, after: float, count: int = 2) -> list[datetime]:
    """The next `count` instants after unix time `after` when `tz` changes its UTC offset (hour steps)."""
    tzinfo = zone(tz)
    found: list[datetime] = []
    t = int(after // 3600 * 3600)
    offset = datetime.fromtimestamp(t, tzinfo).utcoffset()
    for _ in range(24 * 800):  # at most ~2 years of hours
        t += 3600
        moment = datetime.fromtimestamp(t, tzinfo)
        if moment.utcoffset() != offset:
            offset = moment.utcoffset()
            found.append(moment)
            if len(found) == count:
                break
    return found


def occurrences(expr: str, tz: str, after: float, count: int = 5, *, show: Iterable[str] = ("UTC",)) -> Any:
    """A pandas DataFrame of the next `count` occurrences: local time, weekday, UTC offset, other zones.

    The columns keep these English names for code (`table["local time"]`); in French they are shown
    translated, and the weekdays are French."""
    import pandas as pd

    rows = []
    for moment in upcoming(expr, tz, after, count):
        row = {"local time": moment.strftime("%Y-%m-%d %H:%M"), "weekday": _weekday(moment),
               "UTC offset": moment.strftime("%z")[:3] + ":" + moment.strftime("%z")[3:]}
        for other in show:
            row[other] = moment.astimezone(zone(other)).strftime("%Y-%m-%d %H:%M")
        rows.append(row)
    return labelled(pd.DataFrame(rows), columns={"local time": _("local time"), "weekday": _("weekday"),
                                                 "UTC offset": _("UTC offset")})


def _weekday(moment: datetime) -> str:
    """The day's short name in the lab's language (strftime's %a depends on the process locale)."""
    return (_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun"))[moment.weekday()]


def every_24h(first: float, count: int) -> list[float]:
    """The chapter's idea of "daily": the first run, then +86 400 s each time (drifts at DST)."""
    return [first + i * 86400 for i in range(count)]


@dataclass
class Fired:
    """One cron occurrence a worker received during a simulation."""

    schedule: str
    run_at: float
    received_at: float  # simulated clock when the job was taken from the waiting list


def rearm(cq: CronQueue, schedules: dict[str, dict[str, Any]], now: float) -> None:
    """Clear `cq` and register `schedules` (as `cq.schedules()` gave them) again, each with its next
    occurrence after `now`: a simulation cell starts from the same state each time it runs (DEL, HSET)."""
    cq.clear()
    for name, spec in schedules.items():
        cq.schedule_cron(spec["data"], spec["expr"], spec["tz"], name=name, type=spec["type"], now=now)


def fast_forward(cq: CronQueue, until: float, *, start: float | None = None,
                 on_step: Callable[[float, list[Fired]], None] | None = None,
                 pause: float = 0.0) -> list[Fired]:
    """Drive a scheduler in simulated time: jump to the next due job, `tick(now=it)`, take the jobs.

    This is what labqueue's sleeping scheduler does, without the sleeping: the clock jumps from one
    due time to the next. Returns every occurrence received, in order (ZRANGE, tick, RPOP).
    """
    now = time.time() if start is None else start
    fired: list[Fired] = []
    cq.tick(now=now)
    while True:
        nxt = cq.next_due()
        if nxt is None or nxt > until:
            break
        now = nxt
        cq.tick(now=now)
        step: list[Fired] = []
        while (job := cq.dequeue()) is not None:
            step.append(Fired(job.id.rsplit("@", 1)[0], float(job.run_at or 0.0), now))
        fired.extend(step)
        if on_step is not None:
            on_step(now, step)
        if pause:
            time.sleep(pause)
    return fired


def race_schedulers(clients: list[Any], queue_name: str, instants: list[float]) -> dict[str, int]:
    """Several CronQueue schedulers (one thread and one client each) tick at the same instants.

    A barrier lines the threads up before every instant, so their ticks collide. Returns the
    number of ticks each thread ran and the jobs found in the waiting list afterwards (LLEN).
    """
    barrier = threading.Barrier(len(clients))
    ticks = [0] * len(clients)

    def run(i: int) -> None:
        cq = CronQueue(clients[i], queue_name)
        for t in instants:
            barrier.wait()
            cq.tick(now=t)
            ticks[i] += 1

    threads = [threading.Thread(target=run, args=(i,), name=f"scheduler-{i}") for i in range(len(clients))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return {"ticks": sum(ticks), "waiting": int(CronQueue(clients[0], queue_name).size())}


@dataclass
class NaiveCronStep:
    """A naive way of re-arming a recurring job (the chapter never re-arms), split in two to show the race.

    `check(now)` reads the next run-at (GET) and says whether it is due; `fire()` pushes the job
    (LPUSH) and stores the next run-at (SET). Two schedulers that both check before either fires
    both push the same occurrence.
    """

    r: Any
    key: str  # string key holding the next run-at
    queue_key: str  # list the jobs go to
    expr: str
    tz: str
    due: float | None = None

    def arm(self, now: float) -> float:
        """Store the first run-at (SET) and return it."""
        first = next_run(self.expr, self.tz, now)
        self.r.set(self.key, repr(first))
        return first

    def check(self, now: float) -> bool:
        """GET the next run-at; remember it when due."""
        value = self.r.get(self.key)
        at = float(value) if value is not None else None
        self.due = at if at is not None and at <= now else None
        return self.due is not None

    def fire(self) -> None:
        """LPUSH the occurrence, then SET the run-at after it (two separate commands)."""
        assert self.due is not None
        self.r.lpush(self.queue_key, f"occurrence@{int(self.due)}")
        self.r.set(self.key, repr(next_run(self.expr, self.tz, self.due)))
        self.due = None


def local_and_utc_hours(fired: list[Fired], tz: str) -> list[tuple[datetime, float, float]]:
    """(local datetime, local hour, UTC hour) of each occurrence, hours as decimals (for a plot)."""
    tzinfo: ZoneInfo = zone(tz)
    out = []
    for f in fired:
        local = datetime.fromtimestamp(f.run_at, tzinfo)
        utc = datetime.fromtimestamp(f.run_at, timezone.utc)
        out.append((local, local.hour + local.minute / 60, utc.hour + utc.minute / 60))
    return out


def days(n: float) -> float:
    """Seconds in `n` days."""
    return timedelta(days=n).total_seconds()


def planned_vs_actual_figure(runs: dict[str, tuple[list[float], list[float]]]) -> Any:
    """Actual start against planned start, one series per scheduler, and the y = x line."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.2))
    ax = fig.add_subplot()
    top = 0.0
    for label, (planned, actual) in runs.items():
        ax.scatter(planned, actual, s=18, label=label)
        top = max([top, *planned, *actual])
    ax.plot([0, top], [0, top], color="grey", linestyle=":", label=_("on time"))
    ax.set_xlabel(_("planned start (s)"))
    ax.set_ylabel(_("actual start (s)"))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


class CronTimeline:
    """A live chart of fired occurrences: date against hour of day, local and UTC (ipywidgets Image)."""

    def __init__(self, tz: str, title: str = "") -> None:
        import ipywidgets as widgets

        self.tz, self.title = tz, title
        self.widget = widgets.Image(format="png", layout=widgets.Layout(width="560px"))
        self.widget.add_class("lq-live")

    def figure(self, fired: list[Fired], marks: Iterable[datetime] = ()) -> Any:
        from matplotlib.figure import Figure

        rows = local_and_utc_hours(fired, self.tz)
        fig = Figure(figsize=(7, 3))
        ax = fig.add_subplot()
        if rows:
            dates = [r[0] for r in rows]
            ax.scatter(dates, [r[1] for r in rows], s=10, label=_("local hour ({tz})").format(tz=self.tz))
            ax.scatter(dates, [r[2] for r in rows], s=10, marker="x", label=_("UTC hour"))
        for m in marks:
            ax.axvline(m, color="red", linestyle=":", linewidth=1)
        ax.set_ylim(-0.5, 24)
        ax.set_ylabel(_("hour of day"))
        ax.set_title(self.title)
        ax.legend(fontsize=8, loc="lower left")
        fig.autofmt_xdate()
        fig.tight_layout()
        return fig

    def update(self, fired: list[Fired], marks: Iterable[datetime] = ()) -> None:
        from .live import render_png

        self.widget.value = render_png(self.figure(fired, marks))
