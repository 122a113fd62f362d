# expect: pay-1 was charged 2 times: worker A charged it and died before the ack, worker B got the job again
# No guard at all: the chapter's charge_credit_card.
from labqueue.lab.session import qname

DONE = qname("nb09-exercise") + ":done:"     # keep your marks under this prefix: DONE + payment id


def my_handler(card):
    """A handler that charges each payment once, however many times its job is delivered."""
    def handle(job):
        payment_id, amount = job.data["payment_id"], job.data["amount"]
        card.charge(payment_id, amount)
    return handle
