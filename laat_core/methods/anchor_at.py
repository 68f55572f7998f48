from laat_core import losses
from laat_core.methods.method import Method

anchor_at = Method(
    name="anchor-at",
    summary="adversarial training against the raw anchors (the naive approach)",
    loss=lambda model, x, x_adv, y, beta, bn_mode: losses.cross_entropy_loss(model, x_adv, y),
    anchors="none",
    heads=("cosine", "linear"),
)
