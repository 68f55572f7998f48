from laat_core import losses
from laat_core.methods.method import Method

anchor_at_expansion = Method(
    name="anchor-at-expansion",
    summary="adversarial training against the expanded anchors: LAAT's alignment CE only (beta 0)",
    loss=lambda model, x, x_adv, y, beta, bn_mode: losses.cross_entropy_loss(model, x_adv, y),
    anchors="expansion",
)
