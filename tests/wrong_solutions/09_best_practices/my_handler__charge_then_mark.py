# expect: a payment was charged 2 times when two workers ran its job at the same moment
# The chapter's fix: look for the mark, charge, then mark. Two workers holding the same job at once (a
# lease ran out on a slow worker) both find no mark and both charge.
from labqueue.lab.session import qname

DONE = qname("nb09-exercise") + ":done:"     # keep your marks under this prefix: DONE + payment id


def my_handler(card):
    """A handler that charges each payment once, however many times its job is delivered."""
    def handle(job):
        payment_id, amount = job.data["payment_id"], job.data["amount"]
        if not r.exists(DONE + payment_id):          # already_processed?
            card.charge(payment_id, amount)
            r.set(DONE + payment_id, "1")            # mark, after the charge
    return handle
