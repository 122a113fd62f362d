"""Notebook 06 helpers: backoff tables, the thundering herd, the flaky mailer and its DLQ."""

from __future__ import annotations

from labqueue import Backoff, ReliableQueue, Worker
from labqueue.lab import retries as rt


def test_delay_table_shows_ranges_for_jitter():
    """delay_table gives exact delays without jitter and a range with it."""
    df = rt.delay_table({"exp": Backoff.exponential(0.5), "full": Backoff.exponential(0.5, jitter="full")}, 3)
    assert list(df.loc["exp"]) == ["0.50", "1.00", "2.00"]
    assert list(df.loc["full"]) == ["0.00–0.50", "0.00–1.00", "0.00–2.00"]


def test_jitter_spreads_the_herd(r):
    """Without jitter the retries of jobs that failed together bunch up; full jitter spreads them."""
    peaks = {}
    for jitter in (None, "full"):
        q = ReliableQueue(r, f"herd-{jitter}", backoff=Backoff.exponential(1.0, jitter=jitter))
        t = rt.fail_together(q, 100)
        offsets = rt.retry_offsets(q, t)
        c = q.counts()  # a jittered retry due before nacking ended is already back in `waiting`
        assert c["delayed"] + c["waiting"] == 100 and c["processing"] == c["dead"] == 0
        peaks[jitter] = rt.peak(offsets)
    assert peaks[None] == 100 and peaks["full"] < 40


def test_flips_are_deterministic():
    """flips depends only on (seed, address, attempt)."""
    assert rt.flips(0, "a@x", 1) == rt.flips(0, "a@x", 1) != rt.flips(1, "a@x", 1)


def test_email_experiment_dead_letters_exactly_the_expected_addresses(r):
    """The DLQ holds the bouncing mailboxes and the unlucky ones, nothing else; replay clears it."""
    q = ReliableQueue(r, "mail", backoff=Backoff.exponential(0.02, cap=0.1), lease_seconds=2)
    to = rt.addresses(40, bounce_every=10)
    mailer = rt.FlakyMailer(0.3, {a for a in to if a.startswith("bounce")})
    expected = mailer.expected_dead(to, 3)
    e = rt.EmailExperiment(q, mailer, to, rate=400, workers=3, live=False)
    e.run()
    assert not e.stopped_early
    assert set(rt.dead_ids_by_recipient(q)) == expected and len(expected) >= 4
    assert len(set(mailer.sent)) == len(to) - len(expected)
    assert list(rt.dead_table(q).columns) == ["id", "to", "reason", "attempts", "failed at (s)"]
    mailer.fix()
    mailer.failure_rate = 0.0
    assert q.replay_dead() == len(expected)
    Worker(q, {"send_email": mailer.send}, burst=True).run()
    assert q.counts() == {"waiting": 0, "processing": 0, "delayed": 0, "dead": 0}
    assert set(mailer.sent) == set(to)


def test_total_wait_sums_the_backoff():
    """total_wait adds the delays before each retry."""
    assert rt.total_wait(Backoff.exponential(0.5, factor=3), 4) == 0.5 + 1.5 + 4.5


def test_bull3_and_bullmq_backoff_formulas_differ_as_documented():
    """Bull 3 waits 2 s then 6 s (8 s) for delay 2 s; BullMQ and labqueue wait 2 s then 4 s (6 s)."""
    from labqueue.lab import retries as rt

    assert [rt.bull3_exponential(2.0, n) for n in (1, 2, 3)] == [2.0, 6.0, 14.0]
    assert [rt.bullmq_exponential(2.0, n) for n in (1, 2, 3)] == [2.0, 4.0, 8.0]
    table = rt.bull_backoffs(2.0, 3)
    assert list(table.loc["total wait"]) == [8.0, 6.0, 6.0]


def test_peak_counts_retries_due_together_across_a_bucket_boundary():
    """Retries due at 0.9999 s and 1.0001 s are one burst: the window slides, no boundary splits it."""
    offsets = [0.9999] * 100 + [1.0001] * 100 + [1.5]
    assert rt.peak(offsets, 0.1) == 200
    assert rt.peak([0.0, 0.05, 0.2, 0.25, 0.29], 0.1) == 3
    assert rt.peak([], 0.1) == 0


def test_dead_table_shows_each_dead_job_by_its_whole_id(r):
    """The DLQ table names each dead job by its id, the one replay_dead(id) takes: the lab's ids
    (email-0039, email-0079) were cut to 8 characters, so every dead letter of notebook 06 read 'email-00'."""
    q = ReliableQueue(r, "dead-ids", max_attempts=1)
    for n in (39, 79):
        q.enqueue({"to": f"bounce{n}@x"}, type="send_email", job_id=f"email-{n:04d}")
    for job in q.claim(2)[0]:
        q.nack(job, "550 mailbox unavailable")
    table = rt.dead_table(q)
    assert sorted(table["id"]) == ["email-0039", "email-0079"], list(table["id"])
