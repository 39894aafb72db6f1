"""The student shipped under weights/ runs from the README's line, as .pth and as ONNX, and is a trained one."""
import os
import re

import cv2
import numpy as np
import pytest

from helpers import REPO_ROOT

from sdakd_basicsr import inference
from sdakd_basicsr.data.demo_data import bicubic_downscale, load_photo
from sdakd_basicsr.deploy.student import load_student


def readme_student():
    """The student the README's "A student to try now" line runs, without its extension."""
    text = open(os.path.join(REPO_ROOT, 'README.md')).read()
    line = re.search(r'## A student to try now\n+```bash\n(.*?)\n```', text, flags=re.DOTALL).group(1)
    assert line.startswith('python -m sdakd_basicsr.inference '), line
    model = re.search(r'--model (\S+)\.pth', line).group(1)
    return os.path.join(REPO_ROOT, model)


WEIGHTS = readme_student()


def psnr(a, b):
    return 10 * np.log10(255.0 ** 2 / np.mean((a.astype(float) - b.astype(float)) ** 2))


def test_the_shipped_files_and_their_card():
    for ext in ('.pth', '.yml', '.onnx'):
        assert os.path.isfile(WEIGHTS + ext), f'{WEIGHTS + ext} is missing'
    net, spec = load_student(WEIGHTS + '.pth')
    assert spec.family == 'realesrgan' and spec.scale == 4
    assert spec.network_g['type'] in ('RRDBNet', 'RRDBNetBicubicSkip') and spec.network_g['num_feat'] == 16
    assert sum(p.numel() for p in net.parameters()) == 1_046_819
    card = open(os.path.join(REPO_ROOT, 'weights', 'README.md')).read()
    assert 'python -m sdakd_basicsr.inference' in card and 'held-out' in card
    assert os.path.basename(WEIGHTS) + '.pth' in card


@pytest.mark.slow
def test_the_readme_line_upscales_a_photo_it_never_saw_with_pth_and_onnx_alike(tmp_path):
    gt = load_photo('coffee')[100:196, 200:296]  # RGB, a crop of a photo outside the training set
    cv2.imwrite(str(tmp_path / 'coffee.png'), bicubic_downscale(gt)[..., ::-1].copy())
    outputs = {}
    for ext in ('.pth', '.onnx'):
        out = str(tmp_path / ext[1:])
        inference.main(['-i', str(tmp_path / 'coffee.png'), '-o', out, '--model', WEIGHTS + ext, '--suffix', ''])
        outputs[ext] = cv2.imread(os.path.join(out, 'coffee.png'))[..., ::-1]
    assert outputs['.pth'].shape == gt.shape
    assert np.abs(outputs['.pth'].astype(int) - outputs['.onnx'].astype(int)).max() <= 1
    # a trained student reproduces the photo (a freshly initialised plain RRDBNet: about 13 dB) ...
    assert psnr(outputs['.pth'][4:-4, 4:-4], gt[4:-4, 4:-4]) > 22
    # ... and is not the bicubic upscaling that a fresh RRDBNetBicubicSkip starts as
    bicubic = cv2.resize(bicubic_downscale(gt), gt.shape[1::-1], interpolation=cv2.INTER_CUBIC)
    assert np.abs(outputs['.pth'].astype(float) - bicubic).mean() > 2
