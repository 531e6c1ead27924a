"""U-Net regression: the deterministic reference (reference 1 of DESIGN.md).

The network maps the infrared sequence straight to rain in model space,
``net(None, zeros, cond)``. Two losses, both averaged over pixels the radar saw:

- ``"mse"``: the classic set-up; its minimiser is the conditional mean, which is
  smooth and loses extremes.
- ``"mse_quantile"``: MSE plus a distribution-matching (histogram-matching)
  term: the squared distance between the sorted predicted and sorted true
  values of all valid pixels of the batch, i.e. between their quantile
  functions. This is the 1-D Wasserstein-2 distance squared between the pooled
  predicted and true distributions (for equal sample sizes, W2^2 =
  mean((sort(p) - sort(y))^2); Villani 2009, Remark 2.19). It rewards a
  realistic rain histogram (wet fraction, heavy tail) without saying where the
  rain goes, which the MSE term keeps deciding.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from qpeflow.data.batch import Batch
from qpeflow.errors import QpeflowError
from qpeflow.methods.base import CondFn, Estimate, Net, Noise, masked_mean

LOSSES = ("mse", "mse_quantile")


def quantile_matching(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """W2^2 between the pooled valid values of pred and target (both (B, 1, H, W)); 0 if none are valid."""
    keep = mask > 0
    p, y = pred[keep], target[keep]
    if p.numel() == 0:
        return pred.sum() * 0.0
    return (torch.sort(p).values - torch.sort(y).values).square().mean()


class Regression:
    """Conditional-mean U-Net (x_channels = 0, aux_channels = 0).

    Args:
        loss: ``"mse"`` or ``"mse_quantile"`` (see the module docstring).
        quantile_weight: weight of the quantile-matching term in ``"mse_quantile"``.
    """

    x_channels = 0
    aux_channels = 0
    label = "unet"

    def __init__(self, loss: str = "mse", quantile_weight: float = 1.0) -> None:
        if loss not in LOSSES:
            raise QpeflowError(f"method.loss: unknown {loss!r} for regression; known: {list(LOSSES)}")
        self.loss_name = loss
        self.quantile_weight = quantile_weight

    @staticmethod
    def predict(net: Net, cond: Tensor) -> Tensor:
        """The mean field (B, 1, H, W) in model space for cond (B, T, C, H, W); one network evaluation.

        ``functools.partial(Regression.predict, mean_net)`` is the ``mean``
        callable a :class:`~qpeflow.methods.residual.Residual` needs.
        """
        t = torch.zeros(cond.shape[0], device=cond.device)
        return net(None, t, cond)

    def loss(self, net: Net, batch: Batch, generator: torch.Generator | None = None) -> Tensor:
        """Masked MSE (+ weighted quantile matching); ``generator`` is unused (no noise)."""
        pred = self.predict(net, batch.cond).float()
        loss = masked_mean((pred - batch.target).square(), batch.mask)
        if self.loss_name == "mse_quantile":
            loss = loss + self.quantile_weight * quantile_matching(pred, batch.target, batch.mask)
        return loss

    def estimate(
        self, net: Net, cond: Tensor, steps: int = 1, noise: Noise | None = None, sampler: str = ""
    ) -> Estimate:
        """The mean field (B, 1, H, W); ``steps``, ``noise`` and ``sampler`` do not apply. nfe = 1."""
        return Estimate(self.predict(net, cond), 1)

    def map_cond_fns(self, wrap: Callable[[CondFn], CondFn]) -> Regression:
        """No whole-cond callable: the regression itself."""
        return self
