# expect: this provider has no idempotency key
# Part 1's fix copied: the exercise's provider has no idempotency key, the guard must be the handler's own.
from labqueue.lab.session import qname

DONE = qname("nb09-exercise") + ":done:"     # keep your marks under this prefix: DONE + payment id


def my_handler(card):
    """A handler that charges each payment once, however many times its job is delivered."""
    def handle(job):
        payment_id, amount = job.data["payment_id"], job.data["amount"]
        card.charge_with_key(payment_id, amount, idempotency_key=payment_id)
    return handle
