"""The metric suite of one evaluation: which metrics are available, per-image values and set-level FID.

PSNR and SSIM (basicsr, RGB unless ``test_y_channel``), NIQE (basicsr, no reference; on outputs whose cropped
area holds at least two of its 96x96 blocks), LPIPS (lpips package) and FID (pytorch-fid). A metric whose weight file
is missing is ``unavailable`` with the reason; all others still run.
"""
import numpy as np
import torch

from basicsr.metrics import calculate_niqe, calculate_psnr, calculate_ssim

from sdakd_basicsr.metrics.weights import WeightFileMissing

ALL_METRICS = ('psnr', 'ssim', 'lpips', 'niqe', 'fid')
NIQE_BLOCK = 96  # basicsr's NIQE block; it needs two blocks or more for a covariance
OK = 'ok'


def to_uint8_rgb(tensor):
    """(1, 3, H, W) tensor in [0, 1] -> (H, W, 3) uint8 RGB array, rounded as an image file stores it."""
    return (tensor[0].detach().float().cpu().clamp(0, 1).permute(1, 2, 0).numpy() * 255.).round().astype(np.uint8)


class MetricSuite:
    """Builds the networks the chosen metrics need and computes them.

    Args:
        metrics (tuple[str]): Subset of :data:`ALL_METRICS`.
        crop_border (int): Pixels cropped from each border for PSNR, SSIM and NIQE (the SR scale, by convention).
        test_y_channel (bool): PSNR/SSIM on the Y channel instead of RGB.
        inception_weights (str | None): Path of ``pt_inception-2015-12-05-6726825d.pth`` (default: torch hub).
        lpips_net (str): LPIPS backbone: ``alex`` (default), ``vgg`` or ``squeeze``.
        lpips_backbone (str | None): Path of that backbone's torchvision weights (default: torch hub).
        device (str): Where LPIPS and Inception run.
        fid_dims (int): Inception features for FID: 2048 (standard) or 64 / 192 / 768 (quick checks only).
    """

    def __init__(self, metrics=ALL_METRICS, crop_border=0, test_y_channel=False, inception_weights=None,
                 lpips_net='alex', lpips_backbone=None, device='cpu', fid_dims=2048):
        unknown = [m for m in metrics if m not in ALL_METRICS]
        if unknown:
            raise ValueError(f'unknown metrics {unknown}; choose from {list(ALL_METRICS)}')
        self.metrics, self.crop_border, self.test_y_channel, self.device = metrics, crop_border, test_y_channel, device
        self.status = {m: OK for m in metrics}
        self.lpips_net, self.fid_dims = lpips_net, fid_dims
        self.lpips = self.inception = None
        if 'lpips' in metrics:
            from sdakd_basicsr.metrics.lpips_metric import build_lpips
            self.lpips = self._build('lpips', lambda: build_lpips(lpips_net, lpips_backbone, device))
        if 'fid' in metrics:
            from sdakd_basicsr.metrics.fid import build_inception
            self.inception = self._build('fid', lambda: build_inception(inception_weights, device, fid_dims))

    def _build(self, metric, builder):
        try:
            return builder()
        except WeightFileMissing as missing:
            self.status[metric] = f'unavailable: {missing}'
            return None

    def available(self, metric):
        return self.status.get(metric) == OK

    def image_metrics(self, output, gt):
        """Per-image metrics of one output against its GT, both (1, 3, H, W) tensors in [0, 1].

        Returns:
            dict: metric -> float, or None where the metric does not apply (NIQE on a small image) or is
            unavailable.
        """
        sr, ref = to_uint8_rgb(output), to_uint8_rgb(gt)
        sr_bgr, ref_bgr = sr[..., ::-1], ref[..., ::-1]  # basicsr's Y conversion expects BGR
        values = {}
        if 'psnr' in self.metrics:
            values['psnr'] = float(calculate_psnr(sr_bgr, ref_bgr, self.crop_border,
                                                  test_y_channel=self.test_y_channel))
        if 'ssim' in self.metrics:
            values['ssim'] = float(calculate_ssim(sr_bgr, ref_bgr, self.crop_border,
                                                  test_y_channel=self.test_y_channel))
        if 'niqe' in self.metrics:
            h, w = (side - 2 * self.crop_border for side in sr.shape[:2])
            big_enough = (h // NIQE_BLOCK) * (w // NIQE_BLOCK) >= 2
            values['niqe'] = float(calculate_niqe(sr_bgr, self.crop_border)) if big_enough else None
        if 'lpips' in self.metrics:
            values['lpips'] = None
            if self.lpips is not None:
                from sdakd_basicsr.metrics.lpips_metric import lpips_distance
                as_tensor = lambda img: torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.  # noqa: E731
                values['lpips'] = float(lpips_distance(self.lpips, as_tensor(sr), as_tensor(ref))[0])
        return values

    def fid(self, output_files, reference):
        """FID of saved output images against a :class:`~sdakd_basicsr.metrics.fid.FIDReference`, or None."""
        if self.inception is None:
            return None
        from sdakd_basicsr.metrics.fid import fid_of_files
        if len(output_files) < 2:
            self.status['fid'] = 'unavailable: FID needs at least 2 images'
            return None
        return fid_of_files(output_files, reference, self.inception, self.device)
