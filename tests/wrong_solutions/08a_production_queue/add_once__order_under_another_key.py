# expect: the job's data has no "order" field .*\{"to": to, "order": order\}
# Deduplicated, but the order number is stored as "order_id": the email worker reads data["order"].
def add_order_confirmation(queue, order, to):
    return queue.add("send-email", {"to": to, "order_id": order}, job_id=f"order-{order}")
