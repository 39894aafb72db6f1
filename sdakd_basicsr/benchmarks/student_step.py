"""The student generator's training step alone: eager against ``torch.compile``, and Adam's implementations.

Builds the student of an SDAKD option file (``network_g``, derived from the teacher and ``sdakd.width`` where
absent) and times its step on a fixed batch of the file's patch size: forward, L1 to a fixed target, backward,
Adam. Reports how long ``torch.compile`` takes before its first step (with an empty compile cache, as on a
first run: ``TORCHINDUCTOR_CACHE_DIR`` is set to a new folder), and the median step of each variant (timed in
interleaved rounds), so that a short run can tell whether compiling pays: it pays when the run's steps times
the saving exceed the compile time. Adam is timed on its own with the default (per-tensor), ``foreach`` and
``fused`` implementations (``optim_g: {fused: true}`` in an option file passes through BasicSR to torch).

    python -m sdakd_basicsr.benchmarks.student_step -opt options/demo/sdakd_realesrgan_x4plus_demo.yml --threads 2
"""
import argparse
import statistics
import time

import torch

import sdakd_basicsr  # noqa: F401  (registers the student architectures)
from basicsr.archs import build_network

from sdakd_basicsr.utils.options import load_resolved_options
from sdakd_basicsr.utils.profiling import (count_params, error_summary, interleaved_times, markdown_table,
                                           run_benchmark, use_compile_cache)

#: families whose generator maps an LR patch to its upscaled image
LR_PATCH_FAMILIES = ('realesrgan', 'srvgg')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument('-opt', required=True, help='SDAKD option file whose student is timed')
    parser.add_argument('--batch', type=int, default=None, help='default: the file\'s batch_size_per_gpu')
    parser.add_argument('--repeats', type=int, default=8, help='timed steps per variant (default: %(default)s)')
    parser.add_argument('--no-compile', action='store_true', help='skip torch.compile (it takes minutes on a CPU)')
    parser.add_argument('--threads', type=int, default=None, help='torch threads (default: torch\'s)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--json', default=None, metavar='OUT.json', help='also write the result to this file')
    return parser.parse_args(argv)


def measure(args):
    opt, family = load_resolved_options(args.opt)
    if family.name not in LR_PATCH_FAMILIES:
        raise SystemExit(f'{args.opt}: sdakd.family {family.name!r}: this benchmark times students that map an LR '
                         f'patch to an image ({", ".join(LR_PATCH_FAMILIES)})')
    device = torch.device(args.device)
    train_set = opt['datasets']['train']
    batch = args.batch or train_set.get('batch_size_per_gpu', 4)
    scale = opt['scale']
    lq_size = train_set.get('gt_size', 128) // scale
    memory_format = torch.channels_last if opt['train'].get('channels_last') else torch.contiguous_format
    net = build_network(opt['network_g']).to(device, memory_format=memory_format)
    generator = torch.Generator().manual_seed(0)
    lq = torch.rand(batch, opt['network_g'].get('num_in_ch', 3), lq_size, lq_size, generator=generator).to(device)
    lq = lq.contiguous(memory_format=memory_format)
    target = torch.rand(batch, 3, lq_size * scale, lq_size * scale, generator=generator).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4, betas=(0.9, 0.99))

    def step_of(forward):
        def step():
            optimizer.zero_grad(set_to_none=True)
            (forward(lq) - target).abs().mean().backward()
            optimizer.step()
        return step

    result = {'option_file': args.opt, 'network_g': opt['network_g']['type'], 'params_m': count_params(net) / 1e6,
              'batch': batch, 'lq_size': lq_size, 'param_tensors': len(list(net.parameters()))}
    steps, compile_error = {'eager': step_of(net)}, {}
    if not args.no_compile:
        use_compile_cache()  # an empty one: a first run compiles from scratch, a later one reuses what it wrote
        compiled = torch.compile(net)
        start = time.perf_counter()
        try:
            step_of(compiled)()
        except Exception as error:  # e.g. no C++ compiler for inductor: report it, time the rest
            compile_error['compiled'] = error_summary(error)
        else:
            result['compile_and_first_step_s'] = time.perf_counter() - start
            steps['compiled'] = step_of(compiled)
    # the Adam steps alone use the gradients that the student steps before them in each round leave
    for name, kwargs in (('default', {}), ('foreach', {'foreach': True}), ('fused', {'fused': True})):
        steps[f'adam_{name}'] = torch.optim.Adam(net.parameters(), lr=1e-4, betas=(0.9, 0.99), **kwargs).step
    # interleaved rounds: a load change on a shared machine hits every variant alike
    times, errors = interleaved_times(steps, args.repeats, warmup=2, device=device)
    result.update({f'{name}_s': statistics.median(values) for name, values in times.items()})
    result['errors'] = {**compile_error, **errors}
    return result


def to_markdown(result):
    rows = [['student step, eager', f"{result['eager_s']:.3f}", '1.00']]
    if 'compiled_s' in result:
        rows.append(['student step, torch.compile', f"{result['compiled_s']:.3f}",
                     f"{result['eager_s'] / result['compiled_s']:.2f}"])
        rows.append(['torch.compile + its first step', f"{result['compile_and_first_step_s']:.1f}", ''])
    for name in ('default', 'foreach', 'fused'):
        if f'adam_{name}_s' in result:
            rows.append([f'Adam step alone, {name}', f"{result[f'adam_{name}_s']:.4f}", ''])
    rows += [[f'{name}: failed', error, ''] for name, error in result['errors'].items()]
    head = (f"{result['network_g']} ({result['params_m']:.2f} M parameters in {result['param_tensors']} tensors), "
            f"batch {result['batch']} of {result['lq_size']} px LR patches, from {result['option_file']}\n\n")
    return head + markdown_table(['what', 'seconds', 'speed-up'], rows)


def main(argv=None):
    args = parse_args(argv)
    return run_benchmark('The student generator\'s training step', args, measure, to_markdown)


if __name__ == '__main__':
    main()
