from laat_core import losses
from laat_core.methods.method import Method

laat = Method(
    name="laat",
    summary="LAAT: expanded anchors, alignment CE on PGD images + beta * smoothness (official TRADES-cos)",
    loss=lambda model, x, x_adv, y, beta, bn_mode: losses.laat_loss(model, x, x_adv, y, beta, bn_mode),
    anchors="expansion",
    uses_beta=True,
)
