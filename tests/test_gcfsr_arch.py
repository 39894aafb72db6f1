"""GCFSR port: official state-dict layout, parameter counts, width knob, CPU forward/backward, argument checks."""
import json
import math
import os

import pytest
import torch

import sdakd_basicsr  # noqa: F401  (registers the archs)
from basicsr.utils.registry import ARCH_REGISTRY
from sdakd_basicsr.archs import gcfsr_arch
from sdakd_basicsr.archs.gcfsr_arch import GCFSRBlindGenerator, GCFSRDiscriminator, GCFSRGenerator

LAYOUT_PATH = os.path.join(os.path.dirname(__file__), 'data', 'gcfsr512_state_dict_layout.json')
TINY = dict(out_size=64, narrow=1 / 8)


@pytest.fixture(scope='module')
def official_layout():
    with open(LAYOUT_PATH) as handle:
        return json.load(handle)


def on_meta(cls, *args, **kwargs):
    """Build without allocating weights: counts and shapes only."""
    with torch.device('meta'):
        return cls(*args, **kwargs)


def num_params(net):
    return sum(p.numel() for p in net.parameters())


def shapes(net):
    return {k: list(v.shape) for k, v in net.state_dict().items()}


def test_registered_names():
    for name in ('GCFSRGenerator', 'GCFSRBlindGenerator', 'GCFSRDiscriminator'):
        assert name in ARCH_REGISTRY
    # names that would collide with basicsr / upstream GCFSR are not taken by us
    assert ARCH_REGISTRY.get('StyleGAN2Discriminator').__module__.startswith('basicsr.')


@pytest.mark.parametrize('cls, key', [(GCFSRGenerator, 'GCFSR'), (GCFSRBlindGenerator, 'GCFSR_blind'),
                                      (GCFSRDiscriminator, 'StyleGAN2Discriminator_no_std')])
def test_official_state_dict_layout_512(official_layout, cls, key):
    net = on_meta(cls, 512)
    assert list(shapes(net).items()) == list(official_layout[key].items())  # same keys, shapes and order


def test_generator_has_146_tensors_at_512():
    assert len(on_meta(GCFSRGenerator, 512).state_dict()) == 146


@pytest.mark.parametrize('cls, kwargs, millions', [
    (GCFSRGenerator, dict(out_size=512), 62.35),
    (GCFSRGenerator, dict(out_size=512, channel_multiplier=1), 52.24),
    (GCFSRGenerator, dict(out_size=1024), 66.67),
    (GCFSRGenerator, dict(out_size=256), 57.81),
    (GCFSRGenerator, dict(out_size=64), 44.21),
    (GCFSRBlindGenerator, dict(out_size=512), 88.70),
    (GCFSRDiscriminator, dict(out_size=512), 28.98),
])
def test_upstream_parameter_counts(cls, kwargs, millions):
    assert round(num_params(on_meta(cls, **kwargs)) / 1e6, 2) == millions


def test_width_scaling():
    widths = (1, 1 / 2, 1 / 4, 1 / 8)
    for cls in (GCFSRGenerator, GCFSRDiscriminator):
        counts = [num_params(on_meta(cls, 512, narrow=w)) for w in widths]
        assert all(a > b for a, b in zip(counts, counts[1:]))
    # discriminator: every weight scales with width² (up to the tiny first/last layers)
    d = [num_params(on_meta(GCFSRDiscriminator, 512, narrow=w)) for w in widths]
    assert all(3.9 < a / b < 4.1 for a, b in zip(d, d[1:]))
    # generator: quadratic once the style size scales too; with num_style_feat fixed at 512 the style
    # modulations and the latent head shrink only linearly
    g = [num_params(on_meta(GCFSRGenerator, 512, narrow=w, num_style_feat=int(512 * w))) for w in widths]
    assert all(3.5 < a / b < 4.1 for a, b in zip(g, g[1:]))
    g_fixed = [num_params(on_meta(GCFSRGenerator, 512, narrow=w)) for w in widths]
    assert all(2.0 < a / b < 4.1 for a, b in zip(g_fixed, g_fixed[1:]))


def test_narrow_final_linear_follows_channels():
    net = on_meta(GCFSRGenerator, 512, narrow=1 / 8)
    assert net.final_linear.weight.shape == (512 * 12, 16 * (64 // 2))
    blind = on_meta(GCFSRBlindGenerator, 512, narrow=1 / 8)
    assert blind.final_linear.weight.shape == (512 * 12, 16 * 64)


def test_tiny_forward_backward_cpu():
    torch.manual_seed(0)
    g = GCFSRGenerator(**TINY)
    d = GCFSRDiscriminator(**TINY)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    in_size = torch.tensor([[8 / 32], [16 / 32]])
    out, latent = g(x, in_size, return_latents=True)
    assert out.shape == (2, 3, 64, 64) and latent.shape == (2, g.num_latent, 512)
    assert g(x, in_size)[1] is None
    logits = d(out)
    assert logits.shape == (2, 1)
    (logits.sum() + out.abs().mean()).backward()
    for net in (g, d):
        missing = [n for n, p in net.named_parameters() if p.grad is None]
        assert not missing, missing
        assert all(torch.isfinite(p.grad).all() for p in net.parameters())

    blind = GCFSRBlindGenerator(**TINY)
    out_b, _ = blind(x)
    out_b.mean().backward()
    assert out_b.shape == (2, 3, 64, 64)


def test_condition_changes_output_and_stored_noise_is_deterministic():
    torch.manual_seed(0)
    g = GCFSRGenerator(**TINY).eval()
    with torch.no_grad():
        for conv in g.style_convs:  # non-zero noise strength so that the noise matters
            conv.weight.fill_(0.5)
        g.style_conv1.weight.fill_(0.5)
        x = torch.rand(1, 3, 64, 64) * 2 - 1
        a, _ = g(x, torch.full((1, 1), 0.25), randomize_noise=False)
        b, _ = g(x, torch.full((1, 1), 0.25), randomize_noise=False)
        c, _ = g(x, torch.full((1, 1), 1.0), randomize_noise=False)
        noise = g.make_noise(1)
        d1, _ = g(x, torch.full((1, 1), 0.25), noise=noise)
        d2, _ = g(x, torch.full((1, 1), 0.25), noise=noise)
    assert torch.equal(a, b) and torch.equal(d1, d2)
    assert not torch.allclose(a, c)


def test_blocks_match_basicsr_stylegan2(monkeypatch):
    """Same weights → same outputs as BasicSR's StyleGAN2 blocks (their compiled activation swapped for ours)."""
    import basicsr.archs.stylegan2_arch as ref

    class PlainFusedLeakyReLU(torch.nn.Module):

        def __init__(self, channels):
            super().__init__()
            self.bias = torch.nn.Parameter(torch.zeros(channels))

        def forward(self, x):
            return gcfsr_arch.fused_leaky_relu(x, self.bias)

    monkeypatch.setattr(ref, 'FusedLeakyReLU', PlainFusedLeakyReLU)
    monkeypatch.setattr(ref, 'fused_leaky_relu', gcfsr_arch.fused_leaky_relu)
    torch.manual_seed(0)
    x, style = torch.randn(2, 8, 16, 16), torch.randn(2, 32)
    cases = [
        ('ModulatedConv2d', (8, 6, 3, 32), dict(sample_mode='upsample'), (x, style)),
        ('ModulatedConv2d', (8, 6, 3, 32), {}, (x, style)),
        ('StyleConv', (8, 6, 3, 32), dict(sample_mode='upsample'), (x, style, torch.randn(2, 1, 32, 32))),
        ('ToRGB', (8, 32), {}, (x, style, torch.randn(2, 3, 8, 8))),
        ('ConvLayer', (8, 6, 3), dict(downsample=True), (x, )),
        ('ResBlock', (8, 6), {}, (x, )),
        ('EqualLinear', (32, 6), dict(activation='fused_lrelu'), (style, )),
    ]
    for name, args, kwargs, inputs in cases:
        ours, theirs = getattr(gcfsr_arch, name)(*args, **kwargs), getattr(ref, name)(*args, **kwargs)
        with torch.no_grad():
            for p in ours.parameters():
                p.add_(0.1 * torch.randn_like(p))  # move biases away from their constant init
        theirs.load_state_dict(ours.state_dict(), strict=True)
        with torch.no_grad():
            torch.testing.assert_close(ours(*inputs), theirs(*inputs), msg=name)


def test_upfirdn2d_matches_basicsr_native():
    from basicsr.ops.upfirdn2d.upfirdn2d import upfirdn2d_native
    x = torch.randn(2, 4, 12, 12)
    k = gcfsr_arch.make_resample_kernel((1, 3, 3, 1))
    for up, down, pad in [(1, 1, (1, 1)), (1, 2, (2, 2)), (2, 1, (2, 1)), (1, 2, (1, 1))]:
        ours = gcfsr_arch.upfirdn2d(x, k, up, down, pad)
        theirs = upfirdn2d_native(x, k, up, up, down, down, pad[0], pad[1], pad[0], pad[1])
        torch.testing.assert_close(ours, theirs)


def test_bare_official_checkpoint_loads_strictly(official_layout, tmp_path):
    """A bare state dict in the official layout (like gcfsr_blind_512.pth) loads with strict=True."""
    path = tmp_path / 'gcfsr_blind_512.pth'
    torch.save({k: torch.zeros(s) for k, s in official_layout['GCFSR_blind'].items()}, path)
    net = on_meta(GCFSRBlindGenerator, 512)
    result = net.load_state_dict(torch.load(path, map_location='cpu'), strict=True, assign=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert all(p.device.type == 'cpu' for p in net.parameters())


def test_width1_state_dict_round_trip(tmp_path):
    torch.manual_seed(0)
    src = GCFSRGenerator(64)
    torch.save(src.state_dict(), tmp_path / 'g.pth')
    dst = GCFSRGenerator(64)
    dst.load_state_dict(torch.load(tmp_path / 'g.pth', map_location='cpu'), strict=True)
    assert all(torch.equal(a, b) for a, b in zip(src.state_dict().values(), dst.state_dict().values()))
    assert not any(k.endswith('kernel') for k in dst.state_dict())  # resampling kernels are not saved


@pytest.mark.parametrize('cls', [GCFSRGenerator, GCFSRBlindGenerator, GCFSRDiscriminator])
@pytest.mark.parametrize('out_size', [100, 32, 2048, 0, 512.5, '512'])
def test_bad_out_size(cls, out_size):
    with pytest.raises(ValueError, match='out_size'):
        cls(out_size)


@pytest.mark.parametrize('cls', [GCFSRGenerator, GCFSRDiscriminator])
@pytest.mark.parametrize('narrow', [0.1, 0, -0.5, 1 / 3])
def test_bad_narrow(cls, narrow):
    with pytest.raises(ValueError, match='narrow'):
        cls(64, narrow=narrow)


def test_bad_inputs_in_forward():
    g = GCFSRGenerator(**TINY)
    x = torch.zeros(2, 3, 64, 64)
    with pytest.raises(ValueError, match='out_size=64'):
        g(torch.zeros(2, 3, 32, 32), torch.ones(2, 1))
    with pytest.raises(ValueError, match='in_size is missing'):
        g(x)
    for bad in (torch.ones(2), torch.ones(3, 1), torch.ones(2, 2), 0.25):
        with pytest.raises(ValueError, match=r'in_size .*\(b, 1\)'):
            g(x, bad)
    with pytest.raises(ValueError, match='out_size=64'):
        GCFSRDiscriminator(**TINY)(torch.zeros(1, 3, 128, 128))
    with pytest.raises(ValueError, match='noise'):
        g(x, torch.ones(2, 1), noise=[None])


def test_latent_count_matches_decoder():
    for size in (64, 128, 256, 512, 1024):
        net = on_meta(GCFSRGenerator, size)
        assert net.num_latent == 2 * int(math.log2(size)) - 6 == 2 * len(net.to_rgbs) + 2
    # every latent is consumed: perturbing the last one changes the output, and noise sizes follow the decoder
    torch.manual_seed(0)
    g = GCFSRGenerator(**TINY).eval()
    x, in_size = torch.rand(1, 3, 64, 64) * 2 - 1, torch.tensor([[8 / 32]])
    noise = g.make_noise()
    assert [n.shape[-1] for n in noise] == [16, 32, 32, 64, 64]
    seen = {}

    def perturb_last_latent(module, args):
        seen['latent'] = args[1]
        return (args[0], args[1] + 1.0) + tuple(args[2:])

    with torch.no_grad():
        reference = g(x, in_size, noise=noise)[0]
        handle = g.to_rgbs[-1].register_forward_pre_hook(perturb_last_latent)
        perturbed = g(x, in_size, noise=noise)[0]
        handle.remove()
        _, latent = g(x, in_size, noise=noise, return_latents=True)
    assert torch.equal(seen['latent'], latent[:, g.num_latent - 1])
    assert not torch.allclose(reference, perturbed)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_demodulation_of_small_weights_is_finite_in_half_precision(dtype):
    """fp16: squares of weights ~1e-5 and the eps 1e-8 underflow to 0, so a half-precision rsqrt gives inf."""
    torch.manual_seed(0)
    conv = gcfsr_arch.ModulatedConv2d(8, 8, 3, num_style_feat=16).eval()
    with torch.no_grad():
        conv.weight.mul_(1e-4)
    x, style = torch.randn(2, 8, 8, 8), torch.randn(2, 16)
    with torch.no_grad():
        reference = conv(x, style)
        low = conv.to(dtype)(x.to(dtype), style.to(dtype))
    assert low.dtype == dtype and torch.isfinite(low).all()
    tolerance = 2e-2 if dtype == torch.float16 else 1e-1
    assert (low.float() - reference).abs().max() <= tolerance * reference.abs().max()


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_tiny_generator_forward_in_half_precision_matches_fp32(dtype):
    torch.manual_seed(0)
    g = GCFSRGenerator(**TINY).eval()
    x, in_size = torch.rand(1, 3, 64, 64) * 2 - 1, torch.full((1, 1), 0.25)
    noise = g.make_noise(1)
    with torch.no_grad():
        reference, _ = g(x, in_size, noise=noise)
        g = g.to(dtype)
        low, _ = g(x.to(dtype), in_size.to(dtype), noise=[n.to(dtype) for n in noise])
    assert torch.isfinite(low).all()
    print(f'GCFSR tiny {dtype}: max |diff| to fp32 {(low.float() - reference).abs().max():.4f}')
    assert (low.float() - reference).abs().max() <= 0.1
