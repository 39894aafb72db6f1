"""Feature-map distillation loss (SDAKD stages 2 and 3)."""
import torch
from torch import nn
from torch.nn import functional as F

from basicsr.utils.registry import LOSS_REGISTRY

_CRITERIA = {'l1': F.l1_loss, 'mse': F.mse_loss}
_MOVED_TO_ADAPTERS = ('adapter', 'hidden_channels', 'activation')


@LOSS_REGISTRY.register()
class FeatureMapDistillLoss(nn.Module):
    """Distance between adapted student feature maps and detached teacher feature maps, averaged over layers.

    The student features are mapped to the teacher's channels by the ``net_feat_adapters`` network
    (:class:`~sdakd_basicsr.archs.feature_adapter_arch.FeatureAdapters`) before they reach this loss.

    Args:
        criterion (str): ``l1`` (default) or ``mse``.
        loss_weight (float): Weight of the averaged loss. Default: 1.0.
        layers (list[str] | None): Module names tapped in both networks (read by the model, not used here).
        student_layers / teacher_layers (list[str] | None): Different names per network, same length.
    """

    def __init__(self, criterion='l1', loss_weight=1.0, layers=None, student_layers=None, teacher_layers=None,
                 **moved):
        super().__init__()
        if moved:
            where = [k for k in moved if k in _MOVED_TO_ADAPTERS]
            if where:
                raise ValueError(f'train.distill_opt.{where[0]} belongs to the feature adapters now: move '
                                 f'{where} to a top-level block `network_feat_adapters: {{type: FeatureAdapters, '
                                 f'{where[0]}: ...}}`')
            raise TypeError(f'train.distill_opt: unknown keys {sorted(moved)}')
        if criterion not in _CRITERIA:
            raise ValueError(f'distill_opt.criterion={criterion!r}: choose one of {sorted(_CRITERIA)}')
        self.criterion = _CRITERIA[criterion]
        self.loss_weight = loss_weight

    def forward(self, adapted_student_features, teacher_features):
        losses = []
        for f_s, f_t in zip(adapted_student_features, teacher_features):
            if f_s.shape != f_t.shape:
                raise RuntimeError(f'feature distillation needs equal shapes, got adapted student {tuple(f_s.shape)} '
                                   f'and teacher {tuple(f_t.shape)}; tap layers at matching resolutions')
            losses.append(self.criterion(f_s, f_t.detach()))
        return self.loss_weight * torch.stack(losses).mean()
