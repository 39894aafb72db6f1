"""Gradient (edge) L1 loss: the student's image gradients against the ground truth's, as stage loss ``gradient``."""
import torch
from torch import nn
from torch.nn import functional as F

from basicsr.utils.registry import LOSS_REGISTRY

from sdakd_basicsr.losses.terms import register_loss_term


def image_gradients(images):
    """Horizontal and vertical finite differences of a batch of images (N, C, H, W)."""
    return images[..., :, 1:] - images[..., :, :-1], images[..., 1:, :] - images[..., :-1, :]


@LOSS_REGISTRY.register()
class GradientL1Loss(nn.Module):
    """Mean L1 distance between the horizontal and vertical gradients of two images: penalises blurred edges.

    Args:
        loss_weight (float): Weight of the loss. Default: 1.0.
    """

    def __init__(self, loss_weight=1.0):
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, pred, target):
        losses = [F.l1_loss(g_pred, g_target) for g_pred, g_target in zip(image_gradients(pred),
                                                                          image_gradients(target))]
        return self.loss_weight * torch.stack(losses).mean()


# stages switch it on with `losses: [..., gradient]`; its options are `train.gradient_opt`; logged as l_g_gradient
register_loss_term('gradient', 'gradient_opt', 'gt')
