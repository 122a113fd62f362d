# expect: the job is called 'order-confirmation'.*'send-email'
# Deduplicated, but under a job name no processor handles: the email worker takes 'send-email' jobs.
def add_order_confirmation(queue, order, to):
    return queue.add("order-confirmation", {"to": to, "order": order}, job_id=f"order-{order}")
