def add_order_confirmation(queue, order, to):
    """Ajoute le job send-email qui confirme la commande `order` à `to`, de sorte que deux appels (le
    retry du backend après un timeout réseau) ne créent qu'un seul job ; renvoie l'id du job."""
    return queue.add("send-email", {"to": to, "order": order}, job_id=f"order-{order}")   # même commande, même id
