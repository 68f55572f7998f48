"""CW-Linf: projected gradient ascent on the Carlini-Wagner margin inside an L-infinity ball.

torchattacks' CW is the L2 optimisation attack; robustness papers (LAAT included) report the
L-infinity variant, PGD on the CW margin loss, which torchattacks does not ship. Written as a
torchattacks.Attack so it shares its eval-mode handling and device logic.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchattacks.attack import Attack


class CWLinf(Attack):
    def __init__(self, model, eps: float = 8 / 255, alpha: float = 2 / 255, steps: int = 20, kappa: float = 50.0):
        super().__init__("CWLinf", model)
        self.eps, self.alpha, self.steps, self.kappa = eps, alpha, steps, kappa
        self.supported_mode = ["default"]

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        images = images.clone().detach().to(self.device)
        labels = labels.clone().detach().to(self.device)
        adv = (images + torch.empty_like(images).uniform_(-self.eps, self.eps)).clamp(0, 1).detach()
        for _ in range(self.steps):
            adv.requires_grad_(True)
            loss = self._margin(self.get_logits(adv), labels).sum()
            grad = torch.autograd.grad(loss, adv)[0]
            adv = adv.detach() + self.alpha * grad.sign()
            adv = (images + (adv - images).clamp(-self.eps, self.eps)).clamp(0, 1).detach()
        return adv

    def _margin(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Best wrong logit minus the true logit, capped at kappa (higher = more adversarial)."""
        one_hot = F.one_hot(labels, logits.shape[1]).bool()
        true = logits[one_hot]
        best_wrong = logits.masked_fill(one_hot, float("-inf")).max(dim=1).values
        return (best_wrong - true).clamp(max=self.kappa)
