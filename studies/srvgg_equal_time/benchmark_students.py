"""Compact students of the x4plus teacher: width-reduced RRDBNets vs. SRVGGNetCompact, at inference.

For the teacher (RealESRGAN_x4plus: RRDBNet 64 / 23 blocks / 32 growth), RRDB students derived at the given
widths by the Real-ESRGAN family and SRVGGNetCompact students (num_feat / num_conv), it measures parameters,
MACs and the median latency of 1 x 3 x S x S inputs, the speed-up over the teacher, and whether spandrel (the
loader of chaiNNer and ComfyUI) loads the network from a plain ``{'params': state_dict}`` file with the same
output. Random weights: speed and loading do not depend on them.

    python studies/srvgg_equal_time/benchmark_students.py --threads 2      # markdown table on stdout
    python studies/srvgg_equal_time/benchmark_students.py --threads 2 --json out.json --sizes 64 256
"""
import argparse
import json
import os
import sys
import tempfile
from fractions import Fraction

import torch

import sdakd_basicsr  # noqa: F401  (torchvision fix before basicsr; registers the archs)
from basicsr.archs import build_network

from sdakd_basicsr.families import build_family, family_for_generator
from sdakd_basicsr.utils.profiling import (count_macs, count_params, environment, load_average, markdown_table,
                                           median_latency)

TEACHER = dict(type='RRDBNet', num_in_ch=3, num_out_ch=3, num_feat=64, num_block=23, num_grow_ch=32)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--widths', nargs='+', default=['1/2', '1/4', '1/8'], help='RRDB student widths')
    parser.add_argument('--srvgg', nargs='+', default=['64x32', '64x16', '32x16'],
                        help='SRVGGNetCompact students as <num_feat>x<num_conv>')
    parser.add_argument('--sizes', nargs='+', type=int, default=[64, 256], help='LR input sizes S')
    parser.add_argument('--repeats', type=int, default=5, help='timed passes per network and size (median)')
    parser.add_argument('--warmup', type=int, default=1, help='untimed passes before timing')
    parser.add_argument('--threads', type=int, default=None, help='torch.set_num_threads (CPU)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--json', default=None, metavar='OUT.json', help='also write the results here')
    return parser.parse_args(argv)


def networks(widths, srvgg_specs):
    """[(label, architecture summary, options)] of the teacher and every student."""
    family = build_family(family_for_generator(TEACHER['type']))
    nets = [('teacher (x4plus)', 'RRDBNet 64 / 32, 23 blocks', dict(TEACHER))]
    for text in widths:
        width = float(Fraction(text))
        opt = family.student_generator_opt(TEACHER, width)
        nets.append((f'RRDB {text} width', f"RRDBNet {opt['num_feat']} / {opt['num_grow_ch']}, 23 blocks", opt))
    for spec in srvgg_specs:
        num_feat, num_conv = (int(x) for x in spec.split('x'))
        opt = dict(type='SRVGGNetCompact', num_in_ch=3, num_out_ch=3, num_feat=num_feat, num_conv=num_conv,
                   upscale=4, act_type='prelu')
        nets.append((f'SRVGG {num_feat}/{num_conv}', f'SRVGGNetCompact {num_feat} feats, {num_conv} convs', opt))
    return nets


def spandrel_check(net):
    """'yes' when spandrel loads ``net``'s plain checkpoint with identical output, else why not."""
    try:
        import spandrel
    except ImportError:
        return 'spandrel not installed'
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, 'net.pth')
        torch.save({'params': net.state_dict()}, path)
        try:
            loaded = spandrel.ModelLoader().load_from_file(path)
        except Exception as error:  # spandrel raises plain exceptions for unsupported layouts
            return f'no ({type(error).__name__}: {str(error).splitlines()[0][:60]})'
    lq = torch.rand(1, 3, 12, 12, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        same = torch.equal(loaded.model.eval()(lq), net(lq))
    return f'yes ({loaded.architecture.name}, output {"identical" if same else "DIFFERS"})'


def measure(args):
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rows = []
    for label, arch, opt in networks(args.widths, args.srvgg):
        torch.manual_seed(0)
        net = build_network(dict(opt)).eval()
        row = dict(label=label, arch=arch, params=count_params(net), spandrel=spandrel_check(net), sizes={})
        net = net.to(device)
        for size in args.sizes:
            lq = torch.rand(1, 3, size, size, device=device)
            with torch.inference_mode():
                seconds = median_latency(lambda: net(lq), args.repeats, args.warmup, device)
            row['sizes'][size] = dict(macs=count_macs(net, lq), seconds=seconds)
            print(f'{label} @ {size}: {seconds * 1000:.1f} ms', file=sys.stderr, flush=True)
        rows.append(row)
    return dict(environment=environment(device), load_average_after=load_average(), repeats=args.repeats,
                warmup=args.warmup, rows=rows)


def table(result, sizes):
    teacher = result['rows'][0]
    headers = ['Network', 'Architecture', 'Params (M)']
    for size in sizes:
        headers += [f'GMACs {size}²', f'Latency {size}² (ms)', f'Speed-up {size}²']
    headers.append('spandrel 0.4.2 (plain file)')
    body = []
    for row in result['rows']:
        cells = [row['label'], row['arch'], f"{row['params'] / 1e6:.3f}"]
        for size in sizes:
            own, ref = row['sizes'][size], teacher['sizes'][size]
            cells += [f"{own['macs'] / 1e9:.2f}", f"{own['seconds'] * 1000:.1f}",
                      f"{ref['seconds'] / own['seconds']:.1f}×"]
        cells.append(row['spandrel'])
        body.append(cells)
    return markdown_table(headers, body)


def main(argv=None):
    args = parse_args(argv)
    result = measure(args)
    env = result['environment']
    print(f"{env['device']} ({env['cpu']}, {env['torch_threads']} torch threads, torch {env['torch']}), batch 1, "
          f"eager fp32, inference_mode, median of {args.repeats} after {args.warmup} warm-up; "
          f"load average after: {result['load_average_after']}\n")
    print(table(result, args.sizes))
    if args.json:
        with open(args.json, 'w') as handle:
            json.dump(result, handle, indent=2)
    return result


if __name__ == '__main__':
    main()
