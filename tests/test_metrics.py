"""Metrics: the Fréchet distance against a direct scipy computation, missing weights reported as unavailable,
and FID / LPIPS through their libraries with RANDOM-WEIGHT backbones (plumbing only: the values mean nothing)."""
import os

import numpy as np
import pytest
import scipy.linalg
import torch

from sdakd_basicsr.metrics import MetricSuite, WeightFileMissing, find_weight_file
from sdakd_basicsr.metrics.fid import FID_WEIGHTS_FILE, FIDReference, build_inception, fid_of_files, frechet_distance
from sdakd_basicsr.metrics.lpips_metric import BACKBONE_FILES, build_lpips, lpips_distance
from sdakd_basicsr.metrics.weights import offline_hub


def write_random_inception(path):
    """pytorch-fid's FID Inception with random weights, saved under the file name it loads (plumbing only).

    The library builds the network and then loads the weight file into it; capturing the network at that
    point gives the exact layout without copying its construction.
    """
    import torchvision
    from pytorch_fid import inception as fid_inception
    captured = []
    original_load = torchvision.models.Inception3.load_state_dict
    original_loader = fid_inception.load_state_dict_from_url
    torchvision.models.Inception3.load_state_dict = lambda self, state, *a, **k: captured.append(self)
    fid_inception.load_state_dict_from_url = lambda *a, **k: None
    try:
        torch.manual_seed(0)
        fid_inception.fid_inception_v3()
    finally:
        torchvision.models.Inception3.load_state_dict = original_load
        fid_inception.load_state_dict_from_url = original_loader
    for module in captured[0].modules():  # He init keeps activations alive through the 90-odd layers
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save(captured[0].state_dict(), path)
    return path


def write_random_alexnet(path):
    """torchvision AlexNet with random features (plumbing only); the unused classifier is stored as zero-stride
    views of one number, which keeps the file small."""
    import torchvision
    torch.manual_seed(0)
    state = torchvision.models.alexnet(weights=None).state_dict()
    state = {k: v if k.startswith('features.') else torch.zeros(1).expand(v.shape) for k, v in state.items()}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save(state, path)
    return path


@pytest.fixture(scope='session')
def random_metric_weights(tmp_path_factory):
    """A folder laid out as $TORCH_HOME/hub/checkpoints with random-weight FID and LPIPS backbones."""
    folder = tmp_path_factory.mktemp('random_metric_weights')
    return {'inception': write_random_inception(str(folder / FID_WEIGHTS_FILE)),
            'alexnet': write_random_alexnet(str(folder / BACKBONE_FILES['alex']))}


def direct_frechet(mu1, sigma1, mu2, sigma2):
    """d^2 = |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2), with scipy's sqrtm (symmetric form)."""
    root1 = scipy.linalg.sqrtm(sigma1).real
    cross = scipy.linalg.sqrtm(root1 @ sigma2 @ root1).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(sigma1 + sigma2 - 2 * cross))


def test_frechet_distance_matches_scipy_on_known_gaussians():
    rng = np.random.default_rng(0)
    for dim in (2, 4, 16):  # (scipy 1.17 returns no error estimate for 1x1 matrices, which pytorch-fid expects)
        a, b = rng.normal(size=(dim, dim)), rng.normal(size=(dim, dim))
        sigma1, sigma2 = a @ a.T + 0.1 * np.eye(dim), b @ b.T + 0.1 * np.eye(dim)
        mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
        assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(direct_frechet(mu1, sigma1, mu2, sigma2),
                                                                           rel=1e-6, abs=1e-8)
        assert frechet_distance(mu1, sigma1, mu1, sigma1) == pytest.approx(0, abs=1e-6)
    # diagonal covariances: closed form sum (sqrt(a) - sqrt(b))^2 + |mu1 - mu2|^2
    var1, var2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
    expected = 3 * 1.0 ** 2 + (1 + 1 + 0)
    assert frechet_distance(np.zeros(3), np.diag(var1), np.ones(3), np.diag(var2)) == pytest.approx(expected)


def test_missing_weight_files_are_reported_as_unavailable_and_the_rest_runs(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'empty_torch_home'))
    suite = MetricSuite()
    for metric, file_name, option in (('fid', FID_WEIGHTS_FILE, '--inception-weights'),
                                      ('lpips', BACKBONE_FILES['alex'], '--lpips-backbone')):
        status = suite.status[metric]
        assert status.startswith('unavailable') and file_name in status and option in status
        assert os.path.join(str(tmp_path), 'empty_torch_home', 'hub', 'checkpoints') in status
        assert not suite.available(metric)
    import skimage.data
    torch.manual_seed(0)
    gt = torch.from_numpy(skimage.data.astronaut()[:256, 128:384]).permute(2, 0, 1)[None].float() / 255.
    values = suite.image_metrics((gt + 0.05 * torch.randn_like(gt)).clamp(0, 1), gt)
    assert values['lpips'] is None
    assert 20 < values['psnr'] < 40 and 0 < values['ssim'] < 1 and values['niqe'] > 0
    assert suite.fid(['a.png', 'b.png'], None) is None
    assert suite.image_metrics(gt[..., :96, :150], gt[..., :96, :150])['niqe'] is None  # one NIQE block only


def test_an_explicit_path_that_does_not_exist_is_an_error_naming_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=f'{FID_WEIGHTS_FILE}'):
        find_weight_file(FID_WEIGHTS_FILE, str(tmp_path / 'nope.pth'), 'FID', '--inception-weights')
    with pytest.raises(WeightFileMissing, match='--inception-weights'):
        build_inception(None)  # conftest points TORCH_HOME at an empty folder


def test_nothing_is_downloaded_inside_the_offline_hub(tmp_path):
    weights = tmp_path / 'x.pth'
    torch.save({'w': torch.ones(1)}, weights)
    with offline_hub(str(weights), 'x.pth'):
        assert torch.hub.load_state_dict_from_url('https://example.invalid/x.pth')['w'].item() == 1
        with pytest.raises(RuntimeError, match='nothing is downloaded'):
            torch.hub.load_state_dict_from_url('https://example.invalid/other-0123abcd.pth')


def test_fid_and_lpips_run_through_their_libraries_with_random_backbones(random_metric_weights, tmp_path):
    """PLUMBING ONLY: random Inception/AlexNet weights; checks files, caching and basic properties."""
    import cv2
    rng = np.random.default_rng(0)
    folders = {}
    for name, offset in (('ref', 0), ('same', 0), ('other', 60)):
        folders[name] = []
        for i in range(3):
            img = np.clip(np.random.default_rng(i).integers(0, 190, (64, 64, 3)) + offset, 0, 255).astype(np.uint8)
            path = tmp_path / name / f'{i}.png'
            path.parent.mkdir(exist_ok=True)
            cv2.imwrite(str(path), img)
            folders[name].append(str(path))
    # 64 Inception features keep the 2048x2048 matrix square root of the standard FID out of a unit test
    model = build_inception(random_metric_weights['inception'], dims=64)
    reference = FIDReference(str(tmp_path / 'cache'), 'ref', folders['ref'], dims=64)
    assert fid_of_files(folders['same'], reference, model) == pytest.approx(0, abs=1e-3)
    assert os.path.isfile(reference.path)
    cached_at = os.path.getmtime(reference.path)
    assert fid_of_files(folders['other'], reference, model) > 1e-3
    assert os.path.getmtime(reference.path) == cached_at  # reused, not recomputed

    lpips_model = build_lpips('alex', random_metric_weights['alexnet'])
    x = torch.from_numpy(rng.random((2, 3, 64, 64))).float()
    assert lpips_distance(lpips_model, x, x).abs().max() < 1e-6
    assert (lpips_distance(lpips_model, x, x.flip(-1)) > 0).all()
    suite = MetricSuite(inception_weights=random_metric_weights['inception'],
                        lpips_backbone=random_metric_weights['alexnet'], fid_dims=64)
    assert all(status == 'ok' for status in suite.status.values())
    assert suite.image_metrics(x[:1], x[:1].flip(-1))['lpips'] > 0
