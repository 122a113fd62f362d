"""Check of notebook 09: the student's payment handler guarded with SET NX, under a crash and a redelivery."""

from __future__ import annotations

import threading
import time
from typing import Any, Mapping

from ..i18n import _
from . import NotDone, fail, fresh, guard, need, passed, qname


class _NoIdempotencyKey(AttributeError):
    """The exercise's provider was asked for an idempotency key it does not have."""


class _PlainCard:
    """The exercise's provider: `charge` only, every call a new charge (no idempotency key). `hold`, if
    given, runs before the charge is recorded (a charge still in flight at the provider)."""

    def __init__(self, card: Any, hold: Any = None) -> None:
        self._card, self._hold = card, hold

    def charge(self, payment_id: str, amount: float) -> None:
        if self._hold is not None:
            self._hold()
        self._card.charge(payment_id, amount)

    def charge_with_key(self, *args: Any, **kwargs: Any) -> bool:
        raise _NoIdempotencyKey("charge_with_key")


def _at_once(my_handler: Any, card: Any, job: Any) -> int:
    """Two workers handle the same job at the same moment (the first one's lease ran out while its charge
    was still in flight): the first charge waits until the second handler is done. Charges made."""
    entered, release, lock, calls = threading.Event(), threading.Event(), threading.Lock(), [0]

    def hold() -> None:  # only the first charge waits, and never past its deadline
        with lock:
            calls[0] += 1
            first = calls[0] == 1
        if first:
            entered.set()
            release.wait(10)

    def deliver() -> None:
        try:
            my_handler(_PlainCard(card, hold))(job)
        except Exception:  # noqa: BLE001 - judged by the charges made, not by what the handler raised
            pass

    first = threading.Thread(target=deliver, daemon=True)
    first.start()
    if entered.wait(10):
        second = threading.Thread(target=deliver, daemon=True)
        second.start()
        second.join(10)
    release.set()
    first.join(10)
    return card.charged_per_payment().get(job.data["payment_id"], 0)


@guard
def guarded_handler(r: Any, namespace: Mapping[str, Any]) -> str:
    """The redelivery run of part 1 with the student's handler: worker A charges pay-1 and dies before
    the ack, worker B gets it again. A and B each build their own handler, as two processes would. Then
    two handlers get one job at the same moment (the chapter's look-charge-mark charges twice there)."""
    my_handler, done_prefix = need(namespace, _("Exercise"), "my_handler", "DONE")
    from ...reliable import ReliableQueue
    from ...worker import Worker
    from ..crashing import CrashingWorker
    from ..practices import CardProcessor

    name = qname("nb09-exercise")
    probe_card = CardProcessor(r, qname("nb09-exercise-probe"))
    q = ReliableQueue(r, name, lease_seconds=0.5)
    card = CardProcessor(r, name)
    workers: list[Worker] = []
    try:
        for stale in (q, card, probe_card):
            stale.clear()
        fresh(r, done_prefix.rstrip(":"))
        from ...job import new_job

        probe = new_job({"type": "process_payment", "payment_id": "probe", "amount": 1.0})
        try:
            my_handler(_PlainCard(probe_card))(probe)
        except _NoIdempotencyKey:
            raise fail(_("this provider has no idempotency key (card.charge_with_key is part 1's provider): call "
                         "card.charge(payment_id, amount) and guard it yourself with SET NX.")) from None
        except NotImplementedError:
            raise NotDone(_("handle() still raises NotImplementedError; write it, run its cell, then this check.")) \
                from None
        except Exception as exc:
            raise fail(_("your handler raised {error}: {message} on a first delivery.")
                       .format(error=type(exc).__name__, message=exc)) from None
        if probe_card.charged_per_payment() != {"probe": 1}:
            raise fail(_("on a first delivery your handler charged {charged}: it should charge the payment once.")
                       .format(charged=probe_card.charged_per_payment() or _("nothing")))
        fresh(r, done_prefix.rstrip(":"))

        q.enqueue_many({"type": "process_payment", "payment_id": f"pay-{i + 1}", "amount": 49.90} for i in range(3))
        a = CrashingWorker(q, {"process_payment": my_handler(_PlainCard(card))}, name="worker-A", crash_point="after",
                           poll_seconds=0.1)
        a.crash(1)
        workers.append(a.start())
        a.join(timeout=10)  # its only thread dies right after the first job's work, before the ack
        b = Worker(q, {"process_payment": my_handler(_PlainCard(card))}, name="worker-B", poll_seconds=0.1)
        workers.append(b.start())
        deadline = time.time() + 10
        while time.time() < deadline:
            c = q.counts()
            if c["waiting"] == c["processing"] == c["delayed"] == 0 and b.stats["recovered"] >= 1:
                break
            time.sleep(0.02)
        for w in workers:
            w.stop()
        if a.stats["crashed"] != 1 or b.stats["recovered"] < 1:
            raise fail(_("the redelivery did not happen as planned (worker A should crash and B recover its job); "
                         "run the check again."))
        charged = card.charged_per_payment()
        for payment in ("pay-1", "pay-2", "pay-3"):
            n = charged.get(payment, 0)
            if n > 1:
                raise fail(_("{payment} was charged {n} times: worker A charged it and died before the ack, worker B "
                             "got the job again and its handler charged again; mark the payment in Redis with SET NX "
                             "(shared by every worker process) and charge only when the mark is new.")
                           .format(payment=payment, n=n))
            if n == 0:
                raise fail(_("{payment} was never charged: the guard said 'already done' on its first delivery (keep "
                             "the marks under DONE, which the check clears before each run).").format(payment=payment))
        if q.dlq_size():
            raise fail(_("{n} payment job(s) ended in the dead-letter queue: the handler failed.").format(n=q.dlq_size()))
        fresh(r, done_prefix.rstrip(":"))
        probe_card.clear()
        if _at_once(my_handler, probe_card, probe) > 1:
            raise fail(_("a payment was charged 2 times when two workers ran its job at the same moment (a lease ran "
                         "out on a slow worker): both looked for the mark before either had set it; set the mark and "
                         "test it in one step, r.set(key, \"1\", nx=True), before charging."))
        fresh(r, done_prefix.rstrip(":"))
    finally:
        for w in workers:
            w.stop()
        for stale in (q, card, probe_card):
            stale.clear()
        fresh(r, done_prefix.rstrip(":"))
    return passed(_("one charge per payment despite the redelivery: worker A charged pay-1 and died before its "
                    "ack, worker B ran the job again, and your guard in Redis stopped the second charge."))
