# expect: two calls for order 1001 created 2 jobs .*: the backend's retry would send the email twice
# No job id: each add makes a new job with a fresh id.
def add_order_confirmation(queue, order, to):
    return queue.add("send-email", {"to": to, "order": order})
