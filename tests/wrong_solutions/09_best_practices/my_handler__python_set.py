# expect: pay-1 was charged 2 times: .*mark the payment in Redis with SET NX \(shared by every worker process\)
# A guard in Python memory: each worker process has its own, so the second process charges again.
from labqueue.lab.session import qname

DONE = qname("nb09-exercise") + ":done:"     # keep your marks under this prefix: DONE + payment id


def my_handler(card):
    """A handler that charges each payment once, however many times its job is delivered."""
    charged = set()

    def handle(job):
        payment_id, amount = job.data["payment_id"], job.data["amount"]
        if payment_id not in charged:
            charged.add(payment_id)
            card.charge(payment_id, amount)
    return handle
