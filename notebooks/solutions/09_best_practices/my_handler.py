from labqueue.lab.session import qname

DONE = qname("nb09-exercise") + ":done:"     # keep your marks under this prefix: DONE + payment id


def my_handler(card):
    """A handler that charges each payment once, however many times its job is delivered."""
    def handle(job):
        payment_id, amount = job.data["payment_id"], job.data["amount"]
        if r.set(DONE + payment_id, "1", nx=True):   # True only for the first delivery, in any process
            card.charge(payment_id, amount)
    return handle
