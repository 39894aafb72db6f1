"""Real-ESRGAN's on-the-fly second-order degradation, on any device, with a resumable training-pair queue.

The degradation itself is basicsr's ``RealESRGANModel.feed_data`` (reused, not copied); that class hard-codes
``.cuda()`` for DiffJPEG, USMSharp and the queue, so this object provides those on the model's device and
keeps the queue in a state dict that is saved with the training state (resume stays bit-identical).
"""
import torch

from basicsr.models.realesrgan_model import RealESRGANModel
from basicsr.utils import DiffJPEG, USMSharp

#: top-level options that basicsr's degradation code reads (as in Real-ESRGAN's training files)
REQUIRED_OPTIONS = ('scale', 'gt_size', 'resize_prob', 'resize_range', 'gaussian_noise_prob', 'noise_range',
                    'poisson_scale_range', 'gray_noise_prob', 'jpeg_range', 'second_blur_prob', 'resize_prob2',
                    'resize_range2', 'gaussian_noise_prob2', 'noise_range2', 'poisson_scale_range2',
                    'gray_noise_prob2', 'jpeg_range2')


class ContiguousDiffJPEG(DiffJPEG):
    """DiffJPEG whose output is contiguous: recent torch returns a strided tensor that basicsr's
    ``filter2D`` (which calls ``.view``) rejects in the second degradation."""

    def forward(self, x, quality):
        return super().forward(x, quality).contiguous()


class RealESRGANPairSynthesizer:
    """Turns a ``RealESRGANDataset`` batch (gt + kernels) into a degraded (lq, gt, gt_usm) training triple.

    Args:
        opt (dict): The full option dict; reads the keys of :data:`REQUIRED_OPTIONS` and ``queue_size``
            (default 180, must be a multiple of the batch size).
        device (torch.device): Where degradation runs.
    """

    def __init__(self, opt, device):
        missing = [k for k in REQUIRED_OPTIONS if k not in opt]
        if missing:
            raise KeyError(f'Real-ESRGAN degradation options missing at the top level of the option file: {missing} '
                           '(copy them from Real-ESRGAN\'s train_realesrgan_x4plus.yml, as in '
                           'options/sdakd_realesrgan_x4plus.yml)')
        self.opt = opt
        self.device = device
        self.is_train = True
        self.jpeger = ContiguousDiffJPEG(differentiable=False).to(device)
        self.usm_sharpener = USMSharp().to(device)
        self.queue_size = opt.get('queue_size', 180)
        self.queue_lr = self.queue_gt = None
        self.queue_ptr = 0

    @torch.no_grad()
    def __call__(self, data):
        RealESRGANModel.feed_data(self, data)  # sets self.lq, self.gt, self.gt_usm; calls our queue below
        return self.lq, self.gt, self.gt_usm

    @torch.no_grad()
    def _dequeue_and_enqueue(self):
        """Training-pair pool: mixes pairs of earlier batches into the current one for degradation diversity."""
        b = self.lq.size(0)
        if self.queue_lr is None:
            if self.queue_size % b != 0:
                raise ValueError(f'queue_size={self.queue_size} must be a multiple of the batch size {b}')
            self.queue_lr = self.lq.new_zeros((self.queue_size, ) + tuple(self.lq.shape[1:]))
            self.queue_gt = self.gt.new_zeros((self.queue_size, ) + tuple(self.gt.shape[1:]))
            self.queue_ptr = 0
        if self.queue_ptr < self.queue_size:  # still filling: keep the batch as it is
            self.queue_lr[self.queue_ptr:self.queue_ptr + b] = self.lq
            self.queue_gt[self.queue_ptr:self.queue_ptr + b] = self.gt
            self.queue_ptr += b
            return
        order = torch.randperm(self.queue_size)
        self.queue_lr, self.queue_gt = self.queue_lr[order], self.queue_gt[order]
        lq_out, gt_out = self.queue_lr[:b].clone(), self.queue_gt[:b].clone()
        self.queue_lr[:b], self.queue_gt[:b] = self.lq, self.gt
        self.lq, self.gt = lq_out, gt_out

    def state_dict(self):
        if self.queue_lr is None:
            return {'queue_ptr': 0}
        return {'queue_lr': self.queue_lr.cpu(), 'queue_gt': self.queue_gt.cpu(), 'queue_ptr': self.queue_ptr}

    def load_state_dict(self, state):
        self.queue_ptr = state['queue_ptr']
        if 'queue_lr' in state:
            self.queue_lr = state['queue_lr'].to(self.device)
            self.queue_gt = state['queue_gt'].to(self.device)
        else:
            self.queue_lr = self.queue_gt = None
