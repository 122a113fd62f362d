"""Notebook 09 helpers: double charges on redelivery, blocking loops, poison jobs, big payloads."""

from __future__ import annotations

import time

import pytest

from labqueue import Backoff, PayloadTooLarge, ReliableQueue, Worker
from labqueue.lab import practices as pr


def run_payments(r, idempotent: bool):
    q = ReliableQueue(r, f"pay-{idempotent}", lease_seconds=0.3)
    cp = pr.CardProcessor(r, q.name)
    if idempotent:
        def handler(job):
            cp.charge_with_key(job.data["payment_id"], job.data["amount"], job.data["payment_id"])
    else:
        def handler(job):
            cp.charge(job.data["payment_id"], job.data["amount"])
    run = pr.RedeliveryRun(q, handler, payments=3).start()
    run.wait_until_settled(timeout=10)
    run.stop()
    return q, cp, run


def test_redelivery_charges_twice_without_idempotency(r):
    """A crash after the charge and before the ack makes the first payment charged twice."""
    q, cp, run = run_payments(r, idempotent=False)
    assert cp.charged_per_payment() == {"pay-1": 2, "pay-2": 1, "pay-3": 1}
    assert q.counts() == {"waiting": 0, "processing": 0, "delayed": 0, "dead": 0}


def test_redelivery_charges_once_with_an_idempotency_key(r):
    """The same crash with an idempotency key charges every payment once."""
    q, cp, run = run_payments(r, idempotent=True)
    assert cp.charged_per_payment() == {"pay-1": 1, "pay-2": 1, "pay-3": 1}
    assert run.workers[0].stats["crashed"] == 1 and run.workers[1].stats["recovered"] >= 1


def test_blocking_loop_without_timeout_cannot_stop(make_client):
    """A BRPOP loop with timeout 0 ignores the stop flag until an entry arrives; with 0.1 s it stops."""
    stuck = pr.BlockingLoop(make_client(), "block", 0).start()
    assert stuck.stop(0.5) is False
    stuck.unblock()
    assert not stuck.alive and stuck.handled == ["wake-up"]
    polite = pr.BlockingLoop(make_client(), "block", 0.1).start()
    assert polite.stop(2.0) is True


def test_poison_job_with_and_without_a_limit(r):
    """A poison job retries on and on without a limit; with max_attempts=3 it lands in the DLQ."""
    unlimited = ReliableQueue(r, "poison-u", max_attempts=10**9, backoff=Backoff.fixed(0))
    limited = ReliableQueue(r, "poison-l", max_attempts=3, backoff=Backoff.fixed(0))
    ids = [q.enqueue({"type": "invoice", "invoice": "#42"}) for q in (unlimited, limited)]
    Worker(limited, {"invoice": pr.always_fails}, burst=True).run()
    w = Worker(unlimited, {"invoice": pr.always_fails}, poll_seconds=0.05).start()
    while pr.poison_deliveries(unlimited, ids[0]) <= 10:
        time.sleep(0.01)
    w.stop()
    assert unlimited.dlq_size() == 0 and unlimited.counts()["waiting"] + unlimited.counts()["delayed"] == 1
    assert pr.poison_deliveries(limited, ids[1]) == 3 and limited.dlq_size() == 1


def test_poison_race_keeps_retrying_only_without_a_limit(r):
    """PoisonRace: the limited queue dead-letters the poison job after 3; the other keeps going."""
    u = ReliableQueue(r, "race-u", max_attempts=10**9, backoff=Backoff.fixed(0.02))
    lim = ReliableQueue(r, "race-l", max_attempts=3, backoff=Backoff.fixed(0.02))
    race = pr.PoisonRace(u, lim, jobs=20, rate=100, live=False)
    race.run()
    assert not race.stopped_early
    assert race.done_per_queue == {"race-u": 20, "race-l": 20}
    assert lim.dlq_size() == 1 and race.deliveries(lim) == 3
    assert u.dlq_size() == 0 and race.deliveries(u) > 3


def test_big_payload_is_refused_and_nothing_written(r, tmp_path):
    """A 10 MB payload raises PayloadTooLarge and writes nothing; a reference is small."""
    q = ReliableQueue(r, "big")
    image = pr.fake_image(10)
    assert len(image) == 10_000_000
    with pytest.raises(PayloadTooLarge):
        q.enqueue({"type": "resize", "image_data": image})
    assert q.size() == 0 and r.exists(q.keys.waiting) == 0
    url = pr.ObjectStore(tmp_path).put("cat.jpg", image.encode())
    stats = pr.round_trip(q, {"type": "resize", "image_url": url}, repeat=1)
    assert stats["bytes in Redis per job"] < 300 and q.counts()["processing"] == 0


def test_checklist_has_the_four_areas():
    """The checklist table covers the chapter's four areas."""
    assert set(pr.checklist()["area"]) == {"Architecture", "Performance", "Reliability", "Monitoring"}


def test_every_checklist_row_names_notebooks_that_exist_or_says_not_covered():
    """Each row points to notebooks of the lab (and 09's sections to sections that exist), or says 'not covered'."""
    import re
    from pathlib import Path

    import nbformat

    here = Path(__file__).resolve().parent.parent / "notebooks"
    nb09 = nbformat.read(next(here.glob("09_*.ipynb")), 4)
    headings = "\n".join(c.source for c in nb09.cells if c.cell_type == "markdown")
    for area, item, where in pr.CHECKLIST:
        if where.startswith("not covered"):
            continue
        ids = re.findall(r"\b(\d\d[ab]?)\b", where)
        assert ids, f"{item!r}: no notebook named in {where!r}"
        for nb in ids:
            assert list(here.glob(f"{nb}_*.ipynb")), f"{item!r}: notebook {nb} does not exist"
        for section in re.findall(r"09 §(\d+)", where):
            assert re.search(rf"^## {section} · ", headings, re.M), f"{item!r}: 09 has no section {section}"


def test_library_figures_come_from_the_reference_run(tmp_path):
    """The comparison table reads the shipped reference run, and names what is missing from another file."""
    import json

    table, meta = pr.library_figures()
    assert meta["n"] > 0 and len(table) == 4
    assert table.loc[table.index.str.startswith("BullMQ"), "process vs BullMQ"].item() == "1.00x"
    assert table["process, 1 worker /s"].min() > 0
    bad = tmp_path / "run.json"
    bad.write_text(json.dumps({"meta": {}, "systems": []}))
    with pytest.raises(ValueError, match="no"):
        pr.library_figures(bad)
