"""Evaluation metrics as the field computes them, from the libraries the field uses.

FID: ``pytorch-fid``'s InceptionV3 (``pt_inception-2015-12-05`` weights) and its Fréchet distance. LPIPS: the
``lpips`` package (AlexNet by default). PSNR, SSIM and NIQE: basicsr. Weight files are never downloaded: a metric
whose file is missing is reported as unavailable, with the file name and where to put it (:mod:`.weights`).
"""
from sdakd_basicsr.metrics.suite import MetricSuite
from sdakd_basicsr.metrics.weights import WeightFileMissing, find_weight_file

__all__ = ['MetricSuite', 'WeightFileMissing', 'find_weight_file']
