def add_order_confirmation(queue, order, to):
    """Ajoute le job send-email {"to": to, "order": order} qui confirme la commande `order`, de sorte que deux
    appels (le retry du backend après un timeout réseau, la première réponse perdue) ne créent qu'un seul job ;
    renvoie l'id du job."""
    return queue.add("send-email", {"to": to, "order": order}, job_id=f"order-{order}")   # même commande, même id
