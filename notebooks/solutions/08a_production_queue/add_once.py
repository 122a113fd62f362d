def add_order_confirmation(queue, order, to):
    """Add the send-email job {"to": to, "order": order} confirming `order`, so that calling this twice
    (the backend's retry after a network timeout, the first reply lost) creates one job; return the job's id."""
    return queue.add("send-email", {"to": to, "order": order}, job_id=f"order-{order}")   # same order, same id
