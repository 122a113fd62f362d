# expect: the backend's retry after a lost reply created 2 jobs .*: a note kept in this process
# Remembers the orders it added in this process, not in Redis: when the first add's reply is lost (the
# network timeout the exercise is about), nothing was noted, and the retry adds the order a second time.
sent_orders = {}


def add_order_confirmation(queue, order, to):
    if order not in sent_orders:
        sent_orders[order] = queue.add("send-email", {"to": to, "order": order})
    return sent_orders[order]
