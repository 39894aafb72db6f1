"""Write ``gcfsr512_state_dict_layout.json``: the official GCFSR state-dict keys and shapes at full width.

The layout is derived here from the published architecture (module names, kernel sizes and channel table of
hejingwenhejingwen/GCFSR ``basicsr/archs/gcfsr_arch.py``), independently of our port, so that the test compares
the port against the upstream description rather than against itself. Run from the repository root:
``python tests/data/make_gcfsr_layout.py``.
"""
import json
import math
import os
import re

NUM_STYLE = 512


def channels(cm=2):
    table = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * cm, 128: 128 * cm, 256: 64 * cm, 512: 32 * cm}
    table[1024] = 16 * cm
    return table


def conv_layer(prefix, cin, cout, k, downsample=False, bias=True, activate=True):
    """ConvLayer = Sequential([blur if downsample], EqualConv2d, [FusedLeakyReLU]); the blur has no tensors."""
    i = 1 if downsample else 0
    out = {f'{prefix}.{i}.weight': [cout, cin, k, k]}
    if bias and not activate:
        out[f'{prefix}.{i}.bias'] = [cout]
    if activate and bias:
        out[f'{prefix}.{i + 1}.bias'] = [cout]
    return out


def equal_linear(prefix, cin, cout):
    return {f'{prefix}.weight': [cout, cin], f'{prefix}.bias': [cout]}


def modulated_conv(prefix, cin, cout, k):
    out = {f'{prefix}.weight': [1, cout, cin, k, k]}
    out.update(equal_linear(f'{prefix}.modulation', NUM_STYLE, cin))
    return out


def style_conv(prefix, cin, cout):
    out = {f'{prefix}.weight': [1]}  # noise strength
    out.update(modulated_conv(f'{prefix}.modulated_conv', cin, cout, 3))
    out[f'{prefix}.activate.bias'] = [cout]
    return out


def to_rgb(prefix, cin):
    out = {f'{prefix}.bias': [1, 3, 1, 1]}
    out.update(modulated_conv(f'{prefix}.modulated_conv', cin, 3, 1))
    return out


def generator(out_size, blind=False):
    ch = channels()
    log_size = int(math.log2(out_size))
    num_latent = 2 * log_size - 6
    layout = {}
    layout.update(conv_layer('conv_body_first', 3, ch[out_size], 3))
    cin = ch[out_size]
    for n, i in enumerate(range(log_size - 1, 3, -1)):
        layout.update(conv_layer(f'conv_body_down.{n}', cin, ch[2**i], 3, downsample=True))
        cin = ch[2**i]
    layout.update(conv_layer('final_conv', ch[16], ch[16], 3))
    layout.update(conv_layer('final_down1', ch[16], ch[8], 3, downsample=True))
    c4 = ch[4] if blind else ch[4] // 2
    layout.update(conv_layer('final_down2', ch[8], c4, 3, downsample=True))
    layout.update(equal_linear('final_linear', 16 * c4, NUM_STYLE * num_latent))
    for name in ('condition_scale1', 'condition_scale2'):
        for n, i in enumerate(range(log_size, 3, -1)):
            layout.update(equal_linear(f'{name}.{n}', 1, ch[2**i]))
    for n, i in enumerate(range(log_size, 3, -1)):
        layout.update(conv_layer(f'condition_shift.{n}', ch[2**i], ch[2**i], 3, activate=False))
    layout.update(style_conv('style_conv1', ch[16], ch[16]))
    layout.update(to_rgb('to_rgb1', ch[16]))
    cin = ch[16]
    n = 0
    for i in range(5, log_size + 1):
        layout.update(style_conv(f'style_convs.{2 * n}', cin, ch[2**i]))
        layout.update(style_conv(f'style_convs.{2 * n + 1}', ch[2**i], ch[2**i]))
        cin = ch[2**i]
        n += 1
    for n, i in enumerate(range(5, log_size + 1)):
        layout.update(to_rgb(f'to_rgbs.{n}', ch[2**i]))
    # noise buffers keep StyleGAN2's resolution schedule (4, 8, 8, 16, 16, ...) in the released files
    for idx in range((log_size - 4) * 2 + 1):
        res = 2**((idx + 5) // 2)
        layout[f'noises.noise{idx}'] = [1, 1, res, res]
    return layout


def discriminator(out_size):
    ch = channels()
    log_size = int(math.log2(out_size))
    layout = {}
    layout.update(conv_layer('conv_body.0', 3, ch[out_size], 1))
    cin = ch[out_size]
    for n, i in enumerate(range(log_size, 2, -1), start=1):
        cout = ch[2**(i - 1)]
        layout.update(conv_layer(f'conv_body.{n}.conv1', cin, cin, 3))
        layout.update(conv_layer(f'conv_body.{n}.conv2', cin, cout, 3, downsample=True))
        layout.update(conv_layer(f'conv_body.{n}.skip', cin, cout, 1, downsample=True, bias=False, activate=False))
        cin = cout
    layout.update(conv_layer('final_conv', cin, ch[4], 3))
    layout.update(equal_linear('final_linear.0', ch[4] * 16, ch[4]))
    layout.update(equal_linear('final_linear.1', ch[4], 1))
    return layout


if __name__ == '__main__':
    data = {
        'source': 'hejingwenhejingwen/GCFSR basicsr/archs/gcfsr_arch.py (GCFSR, GCFSR_blind, '
                  'StyleGAN2Discriminator_no_std), out_size 512, channel_multiplier 2, narrow 1',
        'GCFSR': generator(512),
        'GCFSR_blind': generator(512, blind=True),
        'StyleGAN2Discriminator_no_std': discriminator(512),
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'gcfsr512_state_dict_layout.json')
    text = json.dumps(data, indent=1)
    text = re.sub(r'\[\s+([^\]]*?)\s+\]', lambda m: '[' + re.sub(r'\s+', ' ', m.group(1)) + ']', text)
    with open(path, 'w') as handle:
        handle.write(text + '\n')
    for name in ('GCFSR', 'GCFSR_blind', 'StyleGAN2Discriminator_no_std'):
        layout = data[name]
        params = sum(math.prod(s) for k, s in layout.items() if not k.startswith('noises.'))
        print(name, len(layout), f'{params / 1e6:.2f} M params')
