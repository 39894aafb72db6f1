"""FID with pytorch-fid: its InceptionV3 (pt_inception-2015-12-05 weights), activations and Fréchet distance.

Reference statistics of a data set (its GT images) are cached as ``.npz`` (mu, sigma, n) under a key made of
the file names and sizes, so every method evaluated on that set reuses them.
"""
import hashlib
import json
import os

import numpy as np
from pytorch_fid.fid_score import calculate_activation_statistics, calculate_frechet_distance
from pytorch_fid.inception import InceptionV3

from sdakd_basicsr.metrics.weights import find_weight_file, offline_hub

#: the file pytorch-fid loads (its URL ends in this name; the hash prefix is checked by torch.hub)
FID_WEIGHTS_FILE = 'pt_inception-2015-12-05-6726825d.pth'
FID_DIMS = 2048  # pool_3 features: the standard FID; pytorch-fid also offers 64, 192 and 768 (not comparable)

__all__ = ['FID_WEIGHTS_FILE', 'build_inception', 'frechet_distance', 'FIDReference', 'fid_of_files']

#: pytorch-fid's own Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2)
frechet_distance = calculate_frechet_distance


def build_inception(weights_path=None, device='cpu', dims=FID_DIMS):
    """pytorch-fid's InceptionV3 returning pool_3 features, weights read from a local file.

    Args:
        weights_path (str | None): ``pt_inception-2015-12-05-6726825d.pth``; default: the torch hub folder.
        device (str | torch.device): Where it runs.
        dims (int): Feature size: 2048 (standard FID) or 64 / 192 / 768 (earlier blocks; quick checks only).

    Raises:
        WeightFileMissing: The weight file is not found.
    """
    if dims not in InceptionV3.BLOCK_INDEX_BY_DIM:
        raise ValueError(f'FID dims {dims}: choose one of {sorted(InceptionV3.BLOCK_INDEX_BY_DIM)}')
    path = find_weight_file(FID_WEIGHTS_FILE, weights_path, 'FID', '--inception-weights')
    with offline_hub(path, FID_WEIGHTS_FILE):
        model = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[dims]])
    model.fid_dims = dims
    return model.eval().to(device)


def statistics(files, model, device='cpu', batch_size=50):
    """(mu, sigma) of the Inception pool_3 features of image ``files`` (pytorch-fid's own pipeline)."""
    if len(files) < 2:
        raise ValueError(f'FID needs at least 2 images for a covariance, got {len(files)}')
    return calculate_activation_statistics([str(f) for f in files], model, min(batch_size, len(files)),
                                           getattr(model, 'fid_dims', FID_DIMS), device, num_workers=0)


def dataset_key(files):
    """Short key of a set of image files: their names and byte sizes (a changed set gets a new key)."""
    listing = [(os.path.basename(f), os.path.getsize(f)) for f in sorted(files)]
    return hashlib.sha1(json.dumps(listing).encode()).hexdigest()[:12]


class FIDReference:
    """Cached reference statistics of one data set.

    Args:
        cache_dir (str): Folder of the ``.npz`` files.
        name (str): Data set name (part of the file name).
        files (list[str]): The reference images (GT).
        dims (int): Inception feature size the statistics are of.
    """

    def __init__(self, cache_dir, name, files, dims=FID_DIMS):
        self.files = sorted(files)
        suffix = '' if dims == FID_DIMS else f'_dims{dims}'
        self.path = os.path.join(cache_dir, f'{name}_{dataset_key(self.files)}{suffix}.npz')

    def load_or_compute(self, model, device='cpu'):
        """(mu, sigma, n): from the cache when present, else computed and cached."""
        if os.path.isfile(self.path):
            with np.load(self.path) as cached:
                return cached['mu'], cached['sigma'], int(cached['n'])
        mu, sigma = statistics(self.files, model, device)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        tmp = self.path + '.tmp.npz'
        np.savez(tmp, mu=mu, sigma=sigma, n=len(self.files))
        os.replace(tmp, self.path)
        return mu, sigma, len(self.files)


def fid_of_files(files, reference, model, device='cpu'):
    """FID of image ``files`` against a :class:`FIDReference`."""
    mu_ref, sigma_ref, _ = reference.load_or_compute(model, device)
    mu, sigma = statistics(files, model, device)
    return float(frechet_distance(mu, sigma, mu_ref, sigma_ref))
