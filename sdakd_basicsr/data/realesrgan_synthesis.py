"""Real-ESRGAN's on-the-fly second-order degradation, on any device, with a resumable training-pair queue.

The degradation itself is basicsr's ``RealESRGANModel.feed_data`` (reused, not copied); that class hard-codes
``.cuda()`` for DiffJPEG, USMSharp and the queue, so this object provides those on the model's device and
keeps the queue in a state dict that is saved with the training state (resume stays bit-identical).
"""
import itertools
import math
import random

import cv2
import torch
from torch.nn import functional as F

from basicsr.models.realesrgan_model import RealESRGANModel
from basicsr.utils import DiffJPEG, USMSharp
from basicsr.utils.matlab_functions import imresize

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


class SeparableUSMSharp(USMSharp):
    """basicsr's unsharp masking with its Gaussian blur done as two 1-D passes (same result).

    The 51×51 Gaussian is the outer product of a 1-D kernel, so a row pass and a column pass give the same
    blur (up to float rounding) with 102 instead of 2601 multiply-adds per pixel; on CPU the 2-D version
    dominated the whole Real-ESRGAN degradation (about 2 s per batch of four 400 px images).
    """

    def __init__(self, radius=50, sigma=0):
        super().__init__(radius, sigma)
        self.register_buffer('kernel_1d', torch.from_numpy(cv2.getGaussianKernel(self.radius, sigma)).float().view(-1))

    def _blur(self, img):
        b, c, h, w = img.shape
        k = self.kernel_1d.numel()
        x = F.pad(img, (k // 2, k // 2, k // 2, k // 2), mode='reflect').reshape(b * c, 1, h + k - 1, w + k - 1)
        x = F.conv2d(x, self.kernel_1d.view(1, 1, 1, k))
        x = F.conv2d(x, self.kernel_1d.view(1, 1, k, 1))
        return x.view(b, c, h, w)

    def forward(self, img, weight=0.5, threshold=10):
        residual = img - self._blur(img)
        soft_mask = self._blur((torch.abs(residual) * 255 > threshold).float())
        sharp = torch.clip(img + weight * residual, 0, 1)
        return soft_mask * sharp + (1 - soft_mask) * img


#: the five orders of three colour channels other than RGB itself
_OTHER_CHANNEL_ORDERS = [order for order in itertools.permutations(range(3)) if order != (0, 1, 2)]


def hue_rotation_matrix(angle, saturation=1.0):
    """3 x 3 matrix that rotates RGB colours by ``angle`` radians about the grey axis (R = G = B).

    Greys, and every colour's mean of R, G and B, stay as they are; the chroma turns round the colour wheel and
    is scaled by ``saturation`` (its distance from the grey axis). A rotation by 120 degrees is the channel order
    GBR, by 240 degrees BRG.
    """
    axis = torch.full((3, ), 1 / math.sqrt(3), dtype=torch.float64)
    grey = torch.outer(axis, axis)  # projection onto the grey axis
    cross = torch.tensor([[0., -axis[2], axis[1]], [axis[2], 0., -axis[0]], [-axis[1], axis[0], 0.]],
                         dtype=torch.float64)
    rotation = (math.cos(angle) * torch.eye(3, dtype=torch.float64) + math.sin(angle) * cross
                + (1 - math.cos(angle)) * grey)
    return grey + saturation * (rotation - grey)


def smallest_degrade_crop(opt):
    """Smallest ``degrade_crop_size`` the degradation of option dict ``opt`` can run on.

    Every blur pads by half its kernel with reflection, which needs more pixels than the padding: the first blur
    runs on the crop, the second after the first resize (down to ``resize_range[0]`` of it), the final sinc
    filter at the LR size. And the crop must hold a ``gt_size`` patch.
    """
    train = opt.get('datasets', {}).get('train', {})
    pad = max(train.get('blur_kernel_size', 21), train.get('blur_kernel_size2', 21)) // 2
    scale = opt['scale']
    least = max(opt['gt_size'], math.ceil((pad + 1) / opt['resize_range'][0]) + 1, (pad + 1) * scale)
    return scale * math.ceil(least / scale)


class RealESRGANPairSynthesizer:
    """Turns a ``RealESRGANDataset`` batch (gt + kernels) into a degraded (lq, gt, gt_usm) training triple.

    Args:
        opt (dict): The full option dict; reads the keys of :data:`REQUIRED_OPTIONS`, ``queue_size``
            (default 180, must be a multiple of the batch size), ``degrade_crop_size``, ``channel_shuffle_prob``,
            ``hue_rotation_prob``, ``saturation_range`` and ``clean_pair_prob``.
        device (torch.device): Where degradation runs.

    ``degrade_crop_size`` (top-level option, default ``~``): crop the GT tiles of a batch to this size, at one
    random position, *before* degrading them. Real-ESRGAN degrades the whole 400 px tile and then crops its
    ``gt_size`` patch, so the degradation costs the same whatever the patch; a crop a little larger than
    ``gt_size`` (:func:`smallest_degrade_crop` is the least it can be) gives patches from the same degradations
    at a fraction of the cost. The degradations and their settings are unchanged; the crop draws its position
    from python's ``random`` (saved with the training state), and near the crop's edges the blurs see
    reflection padding instead of the tile's neighbouring pixels.

    ``channel_shuffle_prob`` (top-level option, default 0): the probability that a GT tile's colour channels are
    put in a random other order before it is degraded. A student learns its colour mapping hue by hue from its
    training photos; from a handful of photos it has seen few hues (the demo's four photos hold almost no
    saturated green, and the student turned held-out green leaves yellow). Shuffled channels show it every hue
    at the photos' own saturations; the teacher's output, computed on the same degraded input, stays the target.
    Drawn from python's ``random`` (saved with the training state).

    ``hue_rotation_prob`` (top-level option, default 0): the probability that a GT tile's colours are rotated about
    the grey axis by an angle drawn uniformly from [0, 360) degrees (:func:`hue_rotation_matrix`, clipped to
    [0, 1]) before it is degraded, after any channel shuffle. Channel orders give six discrete hue turns (and
    mirror images); a rotation gives every hue in between, with the tile's brightness and saturation kept.
    ``saturation_range`` (top-level option, default ``[1, 1]``): a turned tile's saturation is also scaled by a
    factor drawn uniformly from this range, so that a student trained on a few muted photos sees saturated
    colours too. Drawn from python's ``random`` (saved with the training state).

    ``clean_pair_prob`` (top-level option, default 0): the probability that a training pair's LR is the plain
    bicubic downscale of its GT patch (MATLAB-style, antialiased, rounded to 8 bits), with none of the
    degradations. Real-ESRGAN's pipeline always blurs and JPEG-compresses, so a student never sees the clean
    inputs that a camera-sharp photo, or a bicubic-downscaled validation image, gives; what the teacher does
    on those (its colours, its sharpening) the student then cannot learn. The teacher's output on the same clean
    input stays the target. Drawn from python's ``random`` after the pair queue (saved with the training state).
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
        self.usm_sharpener = SeparableUSMSharp().to(device)
        self.queue_size = opt.get('queue_size', 180)
        self.queue_lr = self.queue_gt = None
        self.queue_ptr = 0
        self.degrade_crop_size = opt.get('degrade_crop_size')
        self.channel_shuffle_prob = opt.get('channel_shuffle_prob') or 0
        self.hue_rotation_prob = opt.get('hue_rotation_prob') or 0
        self.clean_pair_prob = opt.get('clean_pair_prob') or 0
        for key in ('channel_shuffle_prob', 'hue_rotation_prob', 'clean_pair_prob'):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f'{key}={value!r}: must be a probability in [0, 1]')
        self.saturation_range = opt.get('saturation_range') or [1, 1]
        low_high = self.saturation_range
        if (not isinstance(low_high, (list, tuple)) or len(low_high) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in low_high)
                or not 0 <= low_high[0] <= low_high[1]):
            raise ValueError(f'saturation_range={low_high!r}: must be [low, high] with 0 <= low <= high '
                             '(1 keeps a turned tile\'s saturation)')
        if list(low_high) != [1, 1] and not self.hue_rotation_prob:
            raise ValueError(f'saturation_range={low_high!r} scales the saturation of hue-rotated tiles only, '
                             'and hue_rotation_prob is 0: set hue_rotation_prob too')
        if self.degrade_crop_size is not None:
            size, least = self.degrade_crop_size, smallest_degrade_crop(opt)
            if not isinstance(size, int) or size < least or size % opt['scale']:
                raise ValueError(f'degrade_crop_size={size!r}: must be a multiple of scale ({opt["scale"]}) and at '
                                 f'least {least}: gt_size ({opt["gt_size"]}), and large enough that the smallest '
                                 f'first resize (resize_range) and the final downscale leave more pixels than the '
                                 'blur kernels\' reflection padding; or ~ to degrade whole tiles')

    def crop_before_degrading(self, data):
        """The batch with its GT tiles cut to ``degrade_crop_size`` at one random position (see class doc)."""
        size = self.degrade_crop_size
        h, w = data['gt'].shape[-2:]
        if size is None or (h <= size and w <= size):
            return data
        top, left = random.randint(0, max(h - size, 0)), random.randint(0, max(w - size, 0))
        return dict(data, gt=data['gt'][..., top:top + size, left:left + size])

    @staticmethod
    def _recolour_tiles(data, prob, recolour):
        """The batch with ``recolour(tile)`` in place of each GT tile with probability ``prob`` (python's
        ``random``: one draw per tile, then ``recolour``'s own draws)."""
        if not prob:
            return data
        gt = data['gt'].clone()
        for i in range(gt.shape[0]):
            if random.random() < prob:
                gt[i] = recolour(data['gt'][i])
        return dict(data, gt=gt)

    def shuffle_channels(self, data):
        """The batch with each GT tile's channels in a random other order with ``channel_shuffle_prob``."""
        return self._recolour_tiles(data, self.channel_shuffle_prob,
                                    lambda tile: tile[list(random.choice(_OTHER_CHANNEL_ORDERS))])

    def rotate_hues(self, data):
        """The batch with each GT tile's hues rotated by a random angle (and its saturation scaled by a factor
        from ``saturation_range``) with ``hue_rotation_prob``."""
        def rotate(tile):
            angle, (low, high) = random.uniform(0, 2 * math.pi), self.saturation_range
            saturation = low if low == high else random.uniform(low, high)  # no draw when fixed
            matrix = hue_rotation_matrix(angle, saturation).to(tile)
            return torch.einsum('oc,chw->ohw', matrix, tile).clamp(0, 1)
        return self._recolour_tiles(data, self.hue_rotation_prob, rotate)

    def clean_pairs(self, lq, gt):
        """``lq`` with each pair's LR replaced, with ``clean_pair_prob``, by the bicubic downscale of its GT."""
        if not self.clean_pair_prob:
            return lq
        lq = lq.clone()
        for i in range(lq.shape[0]):
            if random.random() < self.clean_pair_prob:
                small = imresize(gt[i].float().cpu(), 1 / self.opt['scale'])
                lq[i] = (small.clamp(0, 1) * 255).round().div(255).to(lq)
        return lq

    @torch.no_grad()
    def __call__(self, data):
        data = self.rotate_hues(self.shuffle_channels(self.crop_before_degrading(data)))
        RealESRGANModel.feed_data(self, data)  # sets self.lq, self.gt, self.gt_usm; calls our queue below
        self.lq = self.clean_pairs(self.lq, self.gt)
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
