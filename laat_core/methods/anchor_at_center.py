from laat_core import losses
from laat_core.methods.method import Method

anchor_at_center = Method(
    name="anchor-at-center",
    summary="adversarial training against mean-centred anchors (a simpler de-correlation than expansion)",
    loss=lambda model, x, x_adv, y, beta, bn_mode: losses.cross_entropy_loss(model, x_adv, y),
    anchors="center",
)
