from laat_core import losses
from laat_core.methods.method import Method

standard = Method(
    name="standard",
    summary="clean cross-entropy against the expanded anchors (no attack)",
    loss=lambda model, x, x_adv, y, beta, bn_mode: losses.cross_entropy_loss(model, x, y),
    attack="none",
    heads=("cosine", "linear"),
)
