from laat_core import losses
from laat_core.methods.method import Method

trades = Method(
    name="trades",
    summary="TRADES with the cosine head over expanded anchors: clean CE + beta * KL, KL inner maximisation",
    loss=lambda model, x, x_adv, y, beta, bn_mode: losses.trades_loss(model, x, x_adv, y, beta, bn_mode),
    attack="trades-kl",
    anchors="expansion",
    uses_beta=True,
)
