from laat_core import losses
from laat_core.methods.method import Method

aq = Method(
    name="aq",
    summary="Adversarial Querying (Goldblum et al. 2020): episodic PGD on the queries of a prototype head, "
    "no text anchors (1-shot or more only)",
    loss=lambda model, x, x_adv, y, beta, bn_mode: losses.adversarial_querying_loss(model, x, x_adv, y, bn_mode),
    anchors="none",  # never encoded: the prototype head has no text anchors
    heads=("prototype",),
    episodic=True,
)
