"""The inference command and its runtime: tiling without seams on a real photo, backends, both families."""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

import sdakd_basicsr  # noqa: F401

from helpers import REPO_ROOT, TINY_GCFSR_SDAKD_YML, TINY_REALESRGAN_YML
from sdakd_basicsr import inference
from sdakd_basicsr.deploy.runner import StudentRunner, image_to_tensor, tensor_to_image
from sdakd_basicsr.deploy.student import StudentSpec, export_pth, load_student
from sdakd_basicsr.deploy.tiling import count_tiles, tile_starts, tiled_forward
from test_export import make_training_checkpoint

#: tiled vs untiled on a real photo with a trained RRDBNet, 8-bit output: PSNR at least TILE_MIN_PSNR dB, and
#: 99.9 % of the pixels within TILE_P999_DIFF levels of 255 (measured: 47.9 dB, 9; a 48-px tile with a 16-px
#: overlap gave 41.8 dB, 17: the overlap is what matters)
TILE_MIN_PSNR = 45.0
TILE_P999_DIFF = 12


@pytest.fixture(scope='module')
def photo():
    import skimage.data
    return np.ascontiguousarray(skimage.data.astronaut()[..., ::-1])  # BGR


@pytest.fixture(scope='module')
def real_rrdb():
    """A trained RRDBNet: Real-ESRGAN's 6-block anime x4plus converted from its ncnn files."""
    from sdakd_basicsr.utils import ncnn_realesrgan as ncnn
    opt = dict(type='RRDBNet', num_in_ch=3, num_out_ch=3, num_feat=64, num_block=6, num_grow_ch=32, scale=4)
    return ncnn.load_ncnn_rrdbnet('x4plus_anime_6B').eval(), StudentSpec('realesrgan', opt, scale=4)


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64))**2)
    return float('inf') if mse == 0 else 10 * np.log10(255.0**2 / mse)


def test_tile_grid_covers_the_image_with_equal_tiles():
    assert tile_starts(100, 128, 16) == [0]
    assert tile_starts(300, 128, 16) == [0, 112, 172]
    assert all(s + 128 <= 300 for s in tile_starts(300, 128, 16))
    assert count_tiles(180, 320, 256, 16) == 2
    with pytest.raises(ValueError, match='overlap'):
        tile_starts(300, 32, 32)


def test_tiling_of_an_elementwise_map_is_exact():
    image = torch.rand(1, 3, 70, 90)
    out = tiled_forward(lambda x: torch.repeat_interleave(torch.repeat_interleave(x * 2, 2, 2), 2, 3), image, 2,
                        tile=32, overlap=8)
    assert torch.allclose(out, torch.repeat_interleave(torch.repeat_interleave(image * 2, 2, 2), 2, 3), atol=1e-6)


def test_tiling_accumulates_on_the_backends_device():
    """A CUDA backend fed CPU tiles returns CUDA tensors; the blend must live there, not on the input's device."""
    image = torch.rand(1, 3, 40, 50)

    def backend_on_meta(x):
        return torch.empty(1, 3, x.shape[2] * 2, x.shape[3] * 2, device='meta', dtype=torch.float16)

    out = tiled_forward(backend_on_meta, image, 2, tile=16, overlap=4)
    assert out.device.type == 'meta' and out.shape == (1, 3, 80, 100) and out.dtype == torch.float32


def test_tiled_and_untiled_agree_on_a_real_photo_with_real_weights(real_rrdb, photo):
    net, spec = real_rrdb
    lr = image_to_tensor(photo[60:156, 150:278])  # 96 x 128: face, hair, suit
    whole = tensor_to_image(StudentRunner(net, spec, backend='eager', tile=0).upscale(lr))
    tiled = tensor_to_image(StudentRunner(net, spec, backend='eager', tile=64, overlap=32).upscale(lr))
    assert count_tiles(96, 128, 64, 32) == 6
    diff = np.abs(whole.astype(int) - tiled.astype(int))
    print(f'tiled (64 px, overlap 32) vs untiled, x4 of a 96x128 astronaut crop: PSNR {psnr(whole, tiled):.1f} dB, '
          f'max diff {diff.max()} / 255, 99.9th percentile {np.percentile(diff, 99.9):.0f}, mean {diff.mean():.3f}')
    assert psnr(whole, tiled) >= TILE_MIN_PSNR
    assert np.percentile(diff, 99.9) <= TILE_P999_DIFF
    # no seam: the pixels on the tile borders are not much worse than the rest
    borders = np.zeros(diff.shape[:2], bool)
    for start in tile_starts(96, 64, 32)[1:]:
        borders[start * 4 - 2:start * 4 + 2] = True
    for start in tile_starts(128, 64, 32)[1:]:
        borders[:, start * 4 - 2:start * 4 + 2] = True
    assert diff[borders].mean() <= max(3 * diff[~borders].mean(), 0.5)


def small_rrdb():
    """The smallest RRDBNet (one block, random weights): the backends' agreement does not depend on its size."""
    from basicsr.archs.rrdbnet_arch import RRDBNet
    opt = dict(type='RRDBNet', num_in_ch=3, num_out_ch=3, num_feat=8, num_block=1, num_grow_ch=4, scale=4)
    torch.manual_seed(0)
    return RRDBNet(**{k: v for k, v in opt.items() if k != 'type'}).eval(), StudentSpec('realesrgan', opt, scale=4)


@pytest.mark.slow
def test_backends_agree(photo):
    net, spec = small_rrdb()
    lr = image_to_tensor(photo[100:132, 200:240])
    reference = StudentRunner(net, spec, backend='eager', tile=0).upscale(lr)
    for backend in ('channels_last', 'onnxruntime'):
        out = StudentRunner(net, spec, backend=backend, tile=0, threads=2).upscale(lr)
        assert (out - reference).abs().max() < 1e-4, backend


@pytest.mark.slow
def test_compile_backend_agrees(photo):
    """torch.compile's cost grows with the graph: the smallest RRDBNet on a small crop."""
    net, spec = small_rrdb()
    lr = image_to_tensor(photo[100:116, 200:220])
    reference = StudentRunner(net, spec, backend='eager', tile=0).upscale(lr)
    out = StudentRunner(net, spec, backend='compile', tile=0).upscale(lr)
    assert (out - reference).abs().max() < 1e-4


def test_fp16_needs_a_gpu(real_rrdb):
    with pytest.raises(ValueError, match='CUDA'):
        StudentRunner(*real_rrdb, half=True)


def _write_photos(folder, photo):
    os.makedirs(folder, exist_ok=True)
    cv2.imwrite(os.path.join(folder, 'face.png'), photo[60:124, 160:240])
    cv2.imwrite(os.path.join(folder, 'flag.jpg'), photo[0:48, 0:56])
    cv2.imwrite(os.path.join(folder, 'grey.png'), cv2.cvtColor(photo[300:340, 300:340], cv2.COLOR_BGR2GRAY))
    with open(os.path.join(folder, 'notes.txt'), 'w') as handle:
        handle.write('not an image\n')


def test_command_on_a_folder_from_a_training_checkpoint_tiled_and_untiled(tmp_path, photo):
    path, _ = make_training_checkpoint(str(tmp_path), TINY_REALESRGAN_YML)
    _write_photos(str(tmp_path / 'in'), photo)
    for tile, out in ((0, 'whole'), (24, 'tiled')):
        inference.main(['-i', str(tmp_path / 'in'), '-o', str(tmp_path / out), '--model', path,
                        '--opt', TINY_REALESRGAN_YML, '--tile', str(tile), '--tile-overlap', '8'])
        assert sorted(os.listdir(tmp_path / out)) == ['face_out.png', 'flag_out.png', 'grey_out.png']
    whole = cv2.imread(str(tmp_path / 'whole' / 'face_out.png'))
    tiled = cv2.imread(str(tmp_path / 'tiled' / 'face_out.png'))
    assert whole.shape == (256, 320, 3)
    assert psnr(whole, tiled) > 35  # random-weight student: plumbing only, the real-weight test sets the bar


@pytest.mark.slow
def test_command_with_an_export_and_its_onnx_gives_the_same_images(tmp_path, photo):
    path, _ = make_training_checkpoint(str(tmp_path), TINY_REALESRGAN_YML)
    net, spec = load_student(path, TINY_REALESRGAN_YML)
    export_pth(net, spec, str(tmp_path / 'student.pth'))
    from sdakd_basicsr.deploy.onnx_export import export_onnx
    from sdakd_basicsr.deploy.student import write_card
    export_onnx(net, spec, str(tmp_path / 'student.onnx'))
    write_card(spec, str(tmp_path / 'student.onnx'))
    cv2.imwrite(str(tmp_path / 'one.png'), photo[100:140, 200:250])
    outputs = {}
    for model in ('student.pth', 'student.onnx'):
        folder = str(tmp_path / model.replace('.', '_'))
        inference.main(['-i', str(tmp_path / 'one.png'), '-o', folder, '--model', str(tmp_path / model),
                        '--suffix', ''])
        outputs[model] = cv2.imread(os.path.join(folder, 'one.png')).astype(int)
    assert outputs['student.pth'].shape == (160, 200, 3)
    assert np.abs(outputs['student.pth'] - outputs['student.onnx']).max() <= 1


@pytest.mark.slow
def test_command_runs_as_a_module_with_a_progress_bar(tmp_path, photo):
    path, _ = make_training_checkpoint(str(tmp_path), TINY_REALESRGAN_YML)
    _write_photos(str(tmp_path / 'in'), photo)
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)  # this checkout's package, whatever is installed
    result = subprocess.run([sys.executable, '-m', 'sdakd_basicsr.inference', '-i', 'in', '-o', 'out', '--model',
                             path, '--opt', TINY_REALESRGAN_YML, '--threads', '1'], cwd=str(tmp_path), env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert '3/3' in result.stderr  # tqdm
    assert len(os.listdir(tmp_path / 'out')) == 3


def test_command_gcfsr_aligned_faces(tmp_path, photo):
    path, _ = make_training_checkpoint(str(tmp_path), TINY_GCFSR_SDAKD_YML)
    face = cv2.resize(photo[0:256, 96:352], (16, 16), interpolation=cv2.INTER_AREA)  # a x4 problem at 64 px
    cv2.imwrite(str(tmp_path / 'face.png'), face)
    inference.main(['-i', str(tmp_path / 'face.png'), '-o', str(tmp_path / 'out'), '--model', path, '--opt',
                    TINY_GCFSR_SDAKD_YML, '--face-mode', 'aligned'])
    out = cv2.imread(str(tmp_path / 'out' / 'face_out.png'))
    assert out.shape == (64, 64, 3)


def test_command_gcfsr_photo_mode_names_the_missing_detector_weights(tmp_path, photo):
    path, _ = make_training_checkpoint(str(tmp_path), TINY_GCFSR_SDAKD_YML)
    cv2.imwrite(str(tmp_path / 'p.png'), photo)
    with pytest.raises(FileNotFoundError, match='detection_Resnet50_Final.pth'):
        inference.main(['-i', str(tmp_path / 'p.png'), '-o', str(tmp_path / 'out'), '--model', path, '--opt',
                        TINY_GCFSR_SDAKD_YML, '--face-model-dir', str(tmp_path / 'no_weights')])


def test_command_errors_name_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match='--input'):
        inference.list_images(str(tmp_path / 'missing'))
    with pytest.raises(FileNotFoundError, match='no images'):
        inference.list_images(str(tmp_path))
    cv2.imwrite(str(tmp_path / 'a.png'), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(FileNotFoundError, match='experiments/<name>/models'):
        inference.main(['-i', str(tmp_path), '-o', str(tmp_path / 'o'), '--model', str(tmp_path / 'none.pth')])


def test_the_inference_command_names_its_missing_options(capsys):
    with pytest.raises(SystemExit) as done:
        inference.main([])
    assert done.value.code == 2 and '--model' in capsys.readouterr().err  # argparse: required options missing


def test_pre_padding_mirrors_the_border_and_crops_it_back():
    from torch.nn import functional as F

    from sdakd_basicsr.deploy.tiling import reflect_pre_padded
    from sdakd_basicsr.metrics.artefacts import frame_excess
    image = torch.rand(1, 3, 5, 7, generator=torch.Generator().manual_seed(0))
    upsample = lambda x: F.interpolate(x, scale_factor=4, mode='nearest')  # noqa: E731
    assert torch.equal(reflect_pre_padded(upsample, image, 8), upsample(image))  # (at most 4 = H - 1 mirrored)
    seen = []
    reflect_pre_padded(lambda x: seen.append(x.shape) or upsample(x), image, 3)
    assert seen == [(1, 3, 11, 13)]

    # a zero-padding 3x3 box blur, then x4: on flat grey it darkens the border, which pre-padding removes
    blur = torch.nn.Conv2d(3, 3, 3, padding=1, bias=False, groups=3)
    torch.nn.init.constant_(blur.weight, 1 / 9)
    grey = torch.full((1, 3, 16, 16), 0.5)
    with torch.no_grad():
        bare = upsample(blur(grey))[0].permute(1, 2, 0).numpy()
        padded = reflect_pre_padded(lambda x: upsample(blur(x)), grey, 2)[0].permute(1, 2, 0).numpy()
    flat = grey.repeat_interleave(4, -1).repeat_interleave(4, -2)[0].permute(1, 2, 0).numpy()
    assert frame_excess(bare, flat) > 20 and abs(frame_excess(padded, flat)) < 1e-4


def test_the_runner_pre_pads_whole_and_tiled_images(real_rrdb, photo):
    from torch.nn import functional as F
    net, spec = real_rrdb
    lr = image_to_tensor(photo[60:124, 150:214])  # 64 x 64
    with torch.no_grad():
        expected = net(F.pad(lr, (8, 8, 8, 8), mode='reflect'))[..., 32:-32, 32:-32].clamp(0, 1)
    whole = StudentRunner(net, spec, backend='eager', tile=0, pre_pad=8).upscale(lr)
    bare = StudentRunner(net, spec, backend='eager', tile=0, pre_pad=0).upscale(lr)
    tiled = StudentRunner(net, spec, backend='eager', tile=64, overlap=32, pre_pad=8).upscale(lr)  # 80 px padded
    assert whole.shape == bare.shape == tiled.shape == (1, 3, 256, 256)
    assert torch.allclose(whole, expected, atol=1e-5)
    assert not torch.allclose(whole[..., :4, :], bare[..., :4, :], atol=1e-3)  # the border changed
    assert psnr(tensor_to_image(whole), tensor_to_image(tiled)) >= TILE_MIN_PSNR
