# expect: order 1002 got the same job id as order 1001: derive the id from the order number
# One fixed id for every order: the retry is deduplicated, and so is every other order.
def add_order_confirmation(queue, order, to):
    return queue.add("send-email", {"to": to, "order": order}, job_id="order-confirmation")
