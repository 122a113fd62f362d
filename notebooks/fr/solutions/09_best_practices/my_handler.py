from labqueue.lab.session import qname

DONE = qname("nb09-exercise") + ":done:"     # gardez vos marques sous ce préfixe : DONE + identifiant du paiement


def my_handler(card):
    """Un handler qui débite chaque paiement une seule fois, quel que soit le nombre de livraisons de son job."""
    def handle(job):
        payment_id, amount = job.data["payment_id"], job.data["amount"]
        if r.set(DONE + payment_id, "1", nx=True):   # True seulement pour la première livraison, dans n'importe quel processus
            card.charge(payment_id, amount)
    return handle
