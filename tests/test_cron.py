"""CronQueue and labqueue.cron: time zones, daylight saving, exactly-once occurrences."""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import fakeredis
import pytest

from labqueue import ConfigError, CronQueue
from labqueue.cron import next_run, upcoming

PARIS = ZoneInfo("Europe/Paris")


def paris(*args: int) -> float:
    return datetime(*args, tzinfo=PARIS).timestamp()


def test_spring_forward_runs_after_the_gap():
    """02:30 does not exist on 2026-03-29 in Paris: that day the job runs at 03:00 CEST."""
    runs = upcoming("30 2 * * *", "Europe/Paris", paris(2026, 3, 27, 12), 3)
    assert [(d.day, d.hour, d.minute) for d in runs] == [(28, 2, 30), (29, 3, 0), (30, 2, 30)]
    assert runs[1].utcoffset().total_seconds() == 7200


def test_fall_back_fixed_hour_runs_once():
    """02:30 happens twice on 2026-10-25 in Paris: a daily job runs once, 24 h apart in wall time."""
    runs = upcoming("30 2 * * *", "Europe/Paris", paris(2026, 10, 24, 12), 2)
    assert [(d.day, d.hour) for d in runs] == [(25, 2), (26, 2)]
    assert runs[1].timestamp() - runs[0].timestamp() == 25 * 3600


def test_fall_back_hourly_runs_every_real_hour():
    """An hourly job runs at both 02:00s of the fall-back night (every real hour)."""
    runs = upcoming("0 * * * *", "Europe/Paris", paris(2026, 10, 25, 0, 30), 4)
    gaps = {runs[i + 1].timestamp() - runs[i].timestamp() for i in range(3)}
    assert gaps == {3600.0}


def test_weekly_matches_chapter_day_numbering(r):
    """schedule_weekly uses 0 = Monday as the chapter does."""
    q = CronQueue(r, "weekly")
    name = q.schedule_weekly({"type": "report"}, day_of_week=0, hour=9, tz="Europe/Paris")
    [(raw, score)] = r.zrange(q.keys.delayed, 0, -1, withscores=True)
    when = datetime.fromtimestamp(score, PARIS)
    assert when.weekday() == 0 and (when.hour, when.minute) == (9, 0)
    assert name in q.schedules()


def test_occurrences_enqueued_once_with_two_schedulers(r, make_client):
    """Two schedulers ticking over the same times enqueue each occurrence exactly once."""
    a, b = CronQueue(r, "exact"), CronQueue(make_client(), "exact")
    a.schedule_cron({"type": "tick"}, "*/5 * * * *", "UTC", name="every5")
    start = next_run("*/5 * * * *", "UTC", 1_800_000_000)
    for step in range(0, 3600, 30):  # an hour of ticks, both schedulers each time
        now = start + step
        for q in (a, b, b, a):
            q.tick(now=now)
    ids = []
    while (job := a.dequeue()) is not None:
        ids.append(job.id)
    assert len(ids) == len(set(ids)) == 12
    assert a.delayed_size() == 1  # the next occurrence, exactly one


def test_daily_job_ids_are_deterministic(r):
    """An occurrence's job id is <schedule>@<run-at>, the same whoever enqueues it."""
    q = CronQueue(r, "ids")
    name = q.schedule_daily({"type": "backup"}, hour=3, tz="UTC")
    [raw] = r.zrange(q.keys.delayed, 0, -1)
    assert f'"id":"{name}@' in raw


@pytest.mark.parametrize("expr,tz,message", [
    ("61 * * * *", "UTC", "invalid cron expression"),
    ("* * *", "UTC", "invalid cron expression"),
    ("0 9 * * *", "Mars/Olympus", "unknown time zone"),
    ("0 9 * * *", "", "time zone must be an IANA name"),
])
def test_bad_schedules(expr, tz, message):
    """An invalid cron expression or time zone is refused by name; nothing written."""
    r = fakeredis.FakeRedis()
    with pytest.raises(ConfigError, match=message):
        CronQueue(r, "bad").schedule_cron({"x": 1}, expr, tz)
    assert r.dbsize() == 0


def test_bad_daily_hour():
    """schedule_daily refuses hour 24."""
    r = fakeredis.FakeRedis()
    with pytest.raises(ConfigError, match="hour must be an integer from 0 to 23"):
        CronQueue(r, "bad").schedule_daily({"x": 1}, hour=24)
    assert r.dbsize() == 0


def test_simulated_dates_with_injected_time(r):
    """With `now` injected, a daily schedule yields one job per simulated day."""
    q = CronQueue(r, "sim")
    start = paris(2026, 3, 27, 12)
    q.schedule_daily({"type": "report"}, 9, tz="Europe/Paris", name="daily", now=start)
    for day in range(1, 6):
        q.tick(now=start + day * 86400)
    assert q.size() == 5 and q.delayed_size() == 1


NEVER = "0 0 31 2 *"  # February 31st: croniter accepts it, then finds no date


@pytest.mark.parametrize("expr", [NEVER, "0 0 30 2 *", "0 9 31 4,6,9,11 *"])
def test_a_cron_expression_that_never_fires_is_refused_before_writing(r, expr):
    """A schedule on a date that never comes (February 31st) is a ConfigError naming it; nothing written."""
    q = CronQueue(r, "never")
    q.schedule_daily({"type": "ok"}, 9, name="fine")
    before = {k: r.dump(k) for k in r.keys("*")}
    with pytest.raises(ConfigError, match=f"cron expression '{re.escape(expr)}' never fires"):
        q.schedule_cron({"type": "report"}, expr, "Europe/Paris")
    assert {k: r.dump(k) for k in r.keys("*")} == before
    assert q.tick() is not None  # the queue still works


def test_a_repeat_that_never_fires_is_an_invalid_job(r):
    """JobQueue.add(repeat={'cron': '0 0 31 2 *'}) raises InvalidJob naming the expression; nothing written."""
    from labqueue import InvalidJob
    from labqueue.jobqueue import JobQueue

    q = JobQueue(r, "never")
    with pytest.raises(InvalidJob, match="never fires"):
        q.add("report", {}, repeat={"cron": NEVER})
    assert r.dbsize() == 0


def _plant_bad_schedules(r, q):
    """Schedules written to Redis by older code or by hand: one that never fires, one that is not JSON."""
    r.hset(q.keys.cron, "feb31", json.dumps({"expr": NEVER, "tz": "UTC", "type": "report", "data": {}}))
    r.hset(q.keys.cron, "junk", "{not json")


def test_a_bad_schedule_already_in_redis_is_dead_lettered_and_the_others_still_fire(r, caplog):
    """run_cron/tick move a schedule that cannot run to the DLQ with its reason, log it, and fire the valid ones."""
    q = CronQueue(r, "mixed")
    start = 1_800_000_000
    q.schedule_cron({"type": "tick"}, "*/5 * * * *", "UTC", name="every5", now=start)
    _plant_bad_schedules(r, q)
    with caplog.at_level(logging.ERROR, logger="labqueue.scheduler"):
        for step in range(1, 4):
            q.tick(now=start + step * 300)
    assert q.size() == 3 and set(q.schedules()) == {"every5"}
    dead = {d.id: d for d in q.dead_letters()}
    assert set(dead) == {"cron:feb31", "cron:junk"}
    assert NEVER in dead["cron:feb31"].reason and "never fires" in dead["cron:feb31"].reason
    assert "not valid JSON" in dead["cron:junk"].reason and dead["cron:junk"].raw == "{not json"
    assert "feb31" in caplog.text and "junk" in caplog.text and "dead-letter" in caplog.text


def test_the_scheduler_thread_survives_a_bad_schedule(r):
    """With a bad schedule in Redis the scheduler thread lives on and keeps promoting delayed jobs."""
    q = CronQueue(r, "survive")
    _plant_bad_schedules(r, q)
    scheduler = q.start_scheduler(max_sleep=0.2)
    try:
        q.enqueue({"type": "later"}, delay_seconds=0.3)
        deadline = time.monotonic() + 10
        while q.size() < 1:
            assert time.monotonic() < deadline, "the delayed job was never promoted"
            assert scheduler._thread.is_alive(), "the scheduler thread died"
            time.sleep(0.02)
    finally:
        scheduler.stop()
    assert q.dlq_size() == 2 and q.schedules() == {}


def test_a_repeatable_job_whose_cron_never_fires_fails_with_its_reason_and_the_worker_goes_on(r):
    """A JobQueue repeat already in Redis that never fires fails with a reason naming it; the worker runs the rest."""
    from labqueue.jobqueue import JobQueue

    q = JobQueue(r, "bad-repeat", lease_seconds=2)
    job_id = q.add("report", {}, repeat={"cron": "* * * * *"}, job_id="minutely", delay=0)
    record = json.loads(r.hget(q.keys.jobs, job_id))
    record["opts"]["repeat"]["cron"] = NEVER  # written by older code, or by hand
    r.hset(q.keys.jobs, job_id, json.dumps(record))
    r.zadd(q.keys.delayed, {job_id: 0})  # due now
    q.add("email", {"to": "a"})
    ran = []
    worker = q.process("*", lambda job: ran.append(job.name), poll_seconds=0.05)
    try:
        deadline = time.monotonic() + 10
        while q.get_job(job_id).state != "failed" or ran != ["email"]:
            assert time.monotonic() < deadline, (q.get_job(job_id), ran)
            time.sleep(0.02)
    finally:
        q.close()
    failed = q.get_job(job_id)
    assert "repeat schedule cannot continue" in failed.failed_reason and NEVER in failed.failed_reason
    assert worker.stats["errors"] == 0


@pytest.mark.parametrize("junk", ["junk", "inf", "nan", ""])
def test_a_junk_last_run_does_not_stop_the_schedules(r, junk):
    """A cron:last field holding junk made cron_fire.lua compare a number with nil: run_cron raised and no
    schedule of the queue fired again ('inf' silenced its schedule forever). The next occurrence fires."""
    q = CronQueue(r, "junk-last")
    start = 1_800_000_000
    q.schedule_cron({"type": "tick"}, "*/5 * * * *", "UTC", name="every5", now=start)
    q.schedule_cron({"type": "tock"}, "*/5 * * * *", "UTC", name="other", now=start)
    r.hset(q.keys.cron_last, "every5", junk)
    for step in range(1, 4):
        q.tick(now=start + step * 300)
    assert q.size() == 6, f"{q.size()} jobs due after 3 passes of two 5-minute schedules, expected 6"
    assert float(r.hget(q.keys.cron_last, "every5")) > start


def test_a_bad_schedule_that_cannot_be_dead_lettered_does_not_stop_the_others(r, caplog):
    """A bad schedule met before the good ones, with the DLQ key of another type: cron_bury.lua's WRONGTYPE
    made run_cron raise on every pass and the schedules after it never fired. It is logged and skipped
    (kept in place: nothing lost); the others fire."""
    q = CronQueue(r, "no-dlq")
    start = 1_800_000_000
    r.set(q.keys.dlq, "not a hash")
    r.hset(q.keys.cron, "junk", "{not json")  # first in the hash: met first
    with caplog.at_level(logging.ERROR, logger="labqueue.scheduler"):
        q.schedule_cron({"type": "tick"}, "*/5 * * * *", "UTC", name="every5", now=start)
        for step in range(1, 4):
            q.tick(now=start + step * 300)
    assert q.size() == 3, f"{q.size()} jobs due after 3 passes of a 5-minute schedule, expected 3"
    assert r.hget(q.keys.cron, "junk") is not None and "cannot be dead-lettered" in caplog.text


def _bury_with(r, q, name, definition):
    """A schedule stored as `definition` that `q` (its scheduler) dead-letters as cron:<name> on its next pass."""
    r.hset(q.keys.cron, name, definition if isinstance(definition, str) else json.dumps(definition))
    q.run_cron(now=1_800_000_000)
    assert f"cron:{name}" in {d.id for d in q.dead_letters()}


BIG = {"expr": "0 9 * * *", "tz": "UTC", "type": "report", "data": {"rows": "x" * 500}}


def test_replaying_a_schedule_dead_letter_puts_the_schedule_back(rd):
    """A schedule dead-lettered by a scheduler whose max_payload_bytes was too small: replaying cron:<name>
    with a queue that can run it puts the definition back, as it was, and enqueues its next occurrence.
    The old replay returned 0 and left it in the DLQ, the schedule gone for good."""
    from labqueue.base import text

    _bury_with(rd, CronQueue(rd, "restore", max_payload_bytes=200), "nightly", BIG)
    q = CronQueue(rd, "restore")
    assert q.replay_dead("cron:nightly") == 1
    assert q.dlq_size() == 0 and q.schedules() == {"nightly": BIG}
    assert json.loads(text(rd.hget(q.keys.cron, "nightly"))) == BIG
    assert q.delayed_size() == 1  # its next 09:00 UTC, after the server's now
    (raw, run_at), = rd.zrange(q.keys.delayed, 0, -1, withscores=True)
    assert json.loads(text(raw))["id"] == f"nightly@{int(next_run('0 9 * * *', 'UTC', time.time()))}"
    assert q.replay_dead("cron:nightly") == 0  # gone from the DLQ: nothing more to do


def test_a_schedule_that_still_cannot_run_is_refused_naming_why_and_nothing_is_replayed(r):
    """replay_dead('cron:feb31') when the schedule still never fires: ReplayRefused naming the schedule and
    its reason; the other ids of the same call are not replayed either; every dead letter stays."""
    from labqueue import ReplayRefused

    q = CronQueue(r, "refuse")
    _bury_with(r, q, "feb31", {"expr": NEVER, "tz": "UTC", "type": "report", "data": {}})
    q.enqueue({"to": "a"}, type="email", job_id="mail-1")
    q.bury(q.dequeue(), "SMTP timeout")
    with pytest.raises(ReplayRefused, match=r"'cron:feb31': it still cannot run: .*never fires") as refused:
        q.replay_dead("mail-1", "cron:feb31")
    assert "Nothing was replayed" in str(refused.value)
    assert {d.id for d in q.dead_letters()} == {"cron:feb31", "mail-1"} and q.size() == 0
    assert q.schedules() == {}


def test_a_schedule_scheduled_again_is_not_replaced_by_its_old_dead_letter(r):
    """The operator re-created 'nightly' with a good definition after the bad one was dead-lettered: replaying
    the old dead letter would overwrite it, so it is refused, naming why; the live schedule is untouched."""
    from labqueue import ReplayRefused

    _bury_with(r, CronQueue(r, "again", max_payload_bytes=200), "nightly", BIG)
    q = CronQueue(r, "again")
    q.schedule_cron({"rows": "few"}, "0 10 * * *", "UTC", name="nightly", type="report")
    live = q.schedules()
    with pytest.raises(ReplayRefused, match="'nightly' exists again"):
        q.replay_dead("cron:nightly")
    assert q.schedules() == live and q.dlq_size() == 1


def test_replaying_everything_restores_what_can_run_and_never_turns_a_schedule_into_a_job(r, caplog):
    """replay_dead() with no ids: the dead jobs go back, a schedule that can run again is restored, one that
    still cannot stays in the DLQ with a warning. Before, a buried definition with an 'id' field was pushed
    to the waiting list as if it were a job (a never-firing schedule ran once as a one-off job)."""
    small = CronQueue(r, "all", max_payload_bytes=200)
    _bury_with(r, small, "nightly", BIG)
    _bury_with(r, small, "with-id", {"expr": NEVER, "tz": "UTC", "type": "report", "data": {}, "id": "oops"})
    q = CronQueue(r, "all")
    q.enqueue({"to": "a"}, type="email", job_id="cron:mail")  # a job whose id merely starts with 'cron:'
    q.bury(q.dequeue(), "SMTP timeout")
    with caplog.at_level(logging.WARNING, logger="labqueue.scheduler"):
        assert q.replay_dead() == 2
    assert [d.id for d in q.dead_letters()] == ["cron:with-id"]
    assert q.size() == 1 and q.dequeue().id == "cron:mail"
    assert set(q.schedules()) == {"nightly"}
    assert "cron:with-id" in caplog.text and "never fires" in caplog.text


def test_a_plain_queue_refuses_to_replay_a_schedule_dead_letter_and_leaves_it(r):
    """A SimpleQueue (or ReliableQueue) on the same name cannot put a schedule back: naming cron:<name>
    raises ReplayRefused pointing at CronQueue; replaying everything leaves the schedule's entry alone."""
    from labqueue import ReliableQueue, ReplayRefused, SimpleQueue

    _bury_with(r, CronQueue(r, "plain"), "with-id",
               {"expr": NEVER, "tz": "UTC", "type": "report", "data": {}, "id": "oops"})
    for queue in (SimpleQueue(r, "plain"), ReliableQueue(r, "plain")):
        with pytest.raises(ReplayRefused, match=r"'cron:with-id'.*CronQueue\(client, 'plain'\)\.replay_dead"):
            queue.replay_dead("cron:with-id")
        assert queue.replay_dead() == 0 and queue.size() == 0 and queue.dlq_size() == 1


@pytest.mark.parametrize("earlier_letter", [False, True])
def test_a_schedule_dead_lettered_while_everything_is_replayed_is_never_taken_for_a_job(r, earlier_letter):
    """replay_dead() looks for the schedules' dead letters (HSCAN) before replay.lua runs: a scheduler that
    buries a definition with an 'id' field in between (another process, any time) must not see it pushed
    to the waiting list as a one-off job. Before, replay.lua with no ids (or HKEYS read after the scan)
    replayed every entry with a string id: the never-firing schedule ran once as a job."""
    from labqueue import SimpleQueue

    q = SimpleQueue(r, "race")
    if earlier_letter:
        _bury_with(r, CronQueue(r, "race"), "feb31", {"expr": NEVER, "tz": "UTC", "type": "report", "data": {}})
    q.enqueue({"to": "a"}, type="email", job_id="mail-1")
    q.bury(q.dequeue(), "SMTP timeout")
    scan = q._schedule_letters

    def scan_then_a_scheduler_buries(job_ids):
        found = scan(job_ids)
        _bury_with(r, CronQueue(r, "race"), "late", {"expr": NEVER, "tz": "UTC", "type": "report", "data": {},
                                                    "id": "oops"})
        return found

    q._schedule_letters = scan_then_a_scheduler_buries
    assert q.replay_dead() == 1
    assert [job.id for job in iter(lambda: q.dequeue(timeout=0), None)] == ["mail-1"]
    assert "cron:late" in {d.id for d in q.dead_letters()}


def test_replaying_a_large_dead_letter_queue_leaves_only_the_schedule(r):
    """replay_dead() on 3,000 dead jobs and one schedule's dead letter (found by HSCAN, page by page): every
    job goes back, the schedule's entry stays in the DLQ (it cannot run) and never reaches the waiting list."""
    from labqueue import SimpleQueue

    q = SimpleQueue(r, "big-dlq")
    _bury_with(r, CronQueue(r, "big-dlq"), "feb31", {"expr": NEVER, "tz": "UTC", "type": "report", "data": {},
                                                     "id": "oops"})
    pipe = r.pipeline(transaction=False)
    for n in range(3000):
        pipe.hset(q.keys.dlq, f"j{n}", json.dumps({"id": f"j{n}", "type": "t", "data": {}}))
    pipe.execute()
    assert q.replay_dead() == 3000 and q.size() == 3000
    assert [d.id for d in q.dead_letters()] == ["cron:feb31"]
    assert CronQueue(r, "big-dlq").replay_dead() == 0 and q.dlq_size() == 1


def test_an_occurrence_refused_by_a_wrong_typed_delayed_key_is_not_marked_fired(r):
    """cron_fire.lua schedules the occurrence before it records it as fired: with the delayed key
    holding another type nothing is recorded, and the same occurrence fires once the key is fixed.
    It recorded the run first: that occurrence counted as enqueued and never ran."""
    import redis as redis_py

    q = CronQueue(r, "fire-wrong")
    start = 1_800_000_000
    r.set(q.keys.delayed, "oops")
    with pytest.raises(redis_py.ResponseError, match="WRONGTYPE"):
        q.schedule_cron({"type": "tick"}, "*/5 * * * *", "UTC", name="every5", now=start)
    assert r.hget(q.keys.cron_last, "every5") is None
    r.delete(q.keys.delayed)
    assert q.run_cron(now=start) == 1 and q.delayed_size() == 1


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), 1e12, True, "1800000000"])
def test_a_now_that_is_no_usable_time_is_refused_and_the_schedules_stay(r, bad):
    """run_cron/tick(now=...) (lessons, tests) refuse a now that is not a finite time before year 9000:
    a ConfigError naming it, nothing written. An infinite now or one past datetime's range made every
    schedule's next occurrence fail to compute, and each schedule, valid, was dead-lettered as 'cannot run'."""
    q = CronQueue(r, "bad-now")
    q.schedule_cron({"type": "tick"}, "*/5 * * * *", "UTC", name="every5", now=1_800_000_000)
    for call in (q.run_cron, q.tick):
        with pytest.raises(ConfigError, match="now must be"):
            call(now=bad)
    assert list(q.schedules()) == ["every5"] and q.dlq_size() == 0


def test_a_schedule_buried_twice_keeps_both_definitions_and_either_can_go_back(rd):
    """'nightly' dead-lettered, scheduled again, dead-lettered again (no replay in between): cron_bury.lua
    wrote both under cron:nightly with HSET, and the first definition was lost. Both stay now (the second
    under a derived cron: id whose meta names the schedule); replaying everything puts the newest back and
    leaves the older one, which goes back by its id once the name is free."""
    from labqueue import ReplayRefused

    small = CronQueue(rd, "twice", max_payload_bytes=200)
    older, newer = BIG, {**BIG, "expr": "0 10 * * *"}
    _bury_with(rd, small, "nightly", older)
    _bury_with(rd, small, "nightly", newer)
    dead = small.dead_letters()
    assert [json.loads(d.raw) for d in dead] == [older, newer], "both definitions, oldest failure first"
    assert all(d.id.startswith("cron:") and "cron schedule 'nightly'" in d.reason for d in dead)
    q = CronQueue(rd, "twice")
    with pytest.raises(ReplayRefused, match="newer dead letter of schedule 'nightly'"):
        q.replay_dead(*(d.id for d in dead))
    assert q.dlq_size() == 2 and q.schedules() == {}
    assert q.replay_dead() == 1
    assert q.schedules() == {"nightly": newer}
    (left,) = q.dead_letters()
    assert json.loads(left.raw) == older
    q.unschedule("nightly")
    assert q.replay_dead(left.id) == 1
    assert q.schedules() == {"nightly": older} and q.dlq_size() == 0


@pytest.mark.parametrize("bad", [2.5, float("inf"), 0, -1, True, "3", None])
def test_upcoming_with_a_count_that_is_no_count_is_a_clear_error(bad):
    """upcoming(expr, tz, after, count=2.5) raised range()'s TypeError, count=True listed one run: a ConfigError
    naming count now."""
    with pytest.raises(ConfigError, match="count must be an integer >= 1, got "):
        upcoming("0 9 * * *", "UTC", 1_800_000_000, bad)
    assert len(upcoming("0 9 * * *", "UTC", 1_800_000_000, 2)) == 2
