"""Where an SDAKD training iteration spends its time, per stage, in BasicSR's own training loop.

Runs ``basicsr.train.train_pipeline`` on each option file given, with every stage cut to ``--iters`` iterations
(the first ``--skip`` of each stage are not timed), and splits each timed iteration into: data loading, the
Real-ESRGAN degradation (``feed_data``), the teacher's forward pass, the student generator's step, the
discriminator's step, the EMA update, the rest of the loop (logging, learning-rate update), and validation (one
validation timed, counted per iteration at the file's ``val_freq``). Several option files, or variants of the
first one (``--variant NAME KEY=VALUE ...``, dotted keys, list items by index), are measured one after the other in
one process: the ratio of their totals is what to compare.

    python -m sdakd_basicsr.benchmarks.stages -opt options/demo/sdakd_realesrgan_x4plus_demo.yml --threads 2
    python -m sdakd_basicsr.benchmarks.stages -opt options/demo/sdakd_realesrgan_x4plus_demo.yml \\
        --variant whole_tiles degrade_crop_size=~ --iters 12 --json stages.json
"""
import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections import defaultdict

import torch

from sdakd_basicsr.utils.options import load_options, write_options
from sdakd_basicsr.utils.profiling import markdown_table, run_benchmark

#: the parts of an iteration, in the order they run
PARTS = ('data', 'degradation', 'teacher', 'student_g', 'discriminator', 'ema', 'rest', 'validation')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument('-opt', nargs='+', required=True, help='SDAKD option files (each is measured)')
    parser.add_argument('--variant', nargs='+', action='append', default=[], metavar=('NAME', 'KEY=VALUE'),
                        help='also measure the first file with these changes (measured before the files)')
    parser.add_argument('--iters', type=int, default=12, help='iterations per stage (default: %(default)s)')
    parser.add_argument('--skip', type=int, default=2, help='untimed first iterations of each stage')
    parser.add_argument('--threads', type=int, default=None, help='torch threads (default: torch\'s)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--json', default=None, metavar='OUT.json', help='also write the result to this file')
    args = parser.parse_args(argv)
    if args.iters <= args.skip:
        parser.error('--iters must be larger than --skip')
    return args


def set_dotted(opt, key, value):
    """``opt['a']['b'][0]['c'] = value`` for ``key`` 'a.b.0.c' (the keys must exist up to the last one)."""
    *parents, last = key.split('.')
    node = opt
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def shortened_options(path, iters, workdir, device='cpu', changes=None, name=None):
    """The option file (with ``changes``: {dotted key: value}) with each stage cut to ``iters`` iterations, one
    validation per stage, no checkpoints.

    Returns:
        tuple[str, int]: the written option file and its ``val.val_freq`` (None without validation).
    """
    opt = load_options(path)
    for key, value in (changes or {}).items():
        set_dotted(opt, key, value)
    train = opt['train']
    train['stages'] = [dict(stage, iters=iters) for stage in train['stages']]
    train['total_iter'] = iters * len(train['stages'])
    scheduler = train.get('scheduler') or {}
    if 'milestones' in scheduler:
        scheduler['milestones'] = [train['total_iter'] + 1]
    val_freq = (opt.get('val') or {}).get('val_freq')
    if val_freq:
        opt['val']['val_freq'] = iters
    opt['logger'] = dict(opt.get('logger') or {}, save_checkpoint_freq=10**9, use_tb_logger=False)
    opt['num_gpu'] = 0 if torch.device(device).type == 'cpu' else 1
    out = os.path.join(workdir, f'{name}.yml' if name else os.path.basename(path))
    write_options(opt, out)
    return out, val_freq


class IterationClock:
    """Patches the training loop's parts with timers while active; ``seconds[iter][part]`` after the run."""

    def __init__(self):
        self.seconds = defaultdict(lambda: defaultdict(float))
        self.iter = 0
        self.in_step = False
        self._patches = []
        self._loop_start = None

    def _patch(self, owner, name, wrapper_of):
        original = owner.__dict__.get(name)
        method = getattr(owner, name)
        setattr(owner, name, wrapper_of(method))
        self._patches.append((owner, name, original))

    def _timed(self, part):
        def wrapper_of(method):
            def timed(*args, **kwargs):
                start = time.perf_counter()
                try:
                    return method(*args, **kwargs)
                finally:
                    self.seconds[self.iter][part] += time.perf_counter() - start
            return timed
        return wrapper_of

    def __enter__(self):
        from basicsr.data.prefetch_dataloader import CPUPrefetcher, CUDAPrefetcher
        from sdakd_basicsr.models.sdakd_model import SDAKDModel
        clock = self

        def next_of(method):  # a loop iteration runs from one batch request to the next
            def timed(*args, **kwargs):
                now = time.perf_counter()
                if clock._loop_start is not None and clock.iter:
                    clock.seconds[clock.iter]['loop'] += now - clock._loop_start
                clock._loop_start = now
                clock.iter += 1
                return clock._timed('data')(method)(*args, **kwargs)
            return timed

        def step_of(method):
            def step(model, current_iter):
                self.in_step = True
                try:
                    return self._timed('step')(method)(model, current_iter)
                finally:
                    self.in_step = False
            return step

        def build_teacher_of(method):
            def build_teacher(model, label, *args, **kwargs):
                net = method(model, label, *args, **kwargs)
                if label == 'g':
                    starts = []
                    net.register_forward_pre_hook(lambda *_: starts.append(time.perf_counter()))

                    def stop(*_):
                        if self.in_step:
                            self.seconds[self.iter]['teacher'] += time.perf_counter() - starts[-1]
                    net.register_forward_hook(stop)
                return net
            return build_teacher

        for prefetcher in (CPUPrefetcher, CUDAPrefetcher):
            self._patch(prefetcher, 'next', next_of)
        self._patch(SDAKDModel, 'feed_data', self._timed('degradation'))
        self._patch(SDAKDModel, 'optimize_parameters', step_of)
        self._patch(SDAKDModel, '_optimize_discriminator', self._timed('discriminator'))
        self._patch(SDAKDModel, 'model_ema', self._timed('ema'))
        self._patch(SDAKDModel, 'validation', self._timed('validation_in_loop'))
        self._patch(SDAKDModel, '_build_teacher', build_teacher_of)
        return self

    def __exit__(self, *exc):
        for owner, name, original in reversed(self._patches):
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        return False

    @property
    def validation_s(self):
        """Seconds of each validation of the run."""
        return [s['validation_in_loop'] for s in self.seconds.values() if s.get('validation_in_loop')]

    def parts(self, iteration, validation):
        """One iteration's seconds per part of :data:`PARTS`, with ``validation`` seconds for validation.

        Meant for iterations without a validation: during one, ``feed_data`` and the teacher run on validation
        images too and would count as degradation and teacher time.
        """
        s = self.seconds[iteration]
        student_g = s['step'] - s['teacher'] - s['discriminator'] - s['ema']
        rest = s['loop'] - s['validation_in_loop'] - s['data'] - s['degradation'] - s['step']
        return dict(data=s['data'], degradation=s['degradation'], teacher=s['teacher'], student_g=student_g,
                    discriminator=s['discriminator'], ema=s['ema'], rest=rest, validation=validation)


def measure_file(path, args, workdir, changes=None, name=None):
    """Per-stage mean seconds per iteration and part for one option file, through ``train_pipeline``."""
    import basicsr.train
    short, val_freq = shortened_options(path, args.iters, workdir, args.device, changes, name)
    stages = load_options(short)['train']['stages']
    argv = sys.argv
    sys.argv = ['basicsr.train', '-opt', short]
    try:
        with IterationClock() as clock, contextlib.redirect_stdout(sys.stderr):
            basicsr.train.train_pipeline(workdir)
    finally:
        sys.argv = argv
    validation_s = min(clock.validation_s, default=None)
    validation = validation_s / val_freq if validation_s and val_freq else 0.0
    rows = []
    for index, stage in enumerate(stages):
        first = index * args.iters + 1
        timed = range(first + args.skip, first + args.iters - 1)  # the stage's last iteration ends at validation
        iterations = [clock.parts(i, validation) for i in timed]
        per_part = {part: sum(it[part] for it in iterations) / len(timed) for part in PARTS}
        rows.append({'stage': stage['name'], 'iters_timed': len(timed), 'parts': per_part,
                     's_per_iter': sum(per_part.values())})
    return {'option_file': path, 'label': name or os.path.basename(path), 'changes': changes or {},
            'val_freq': val_freq, 'validation_s': validation_s, 'stages': rows}


def benchmark(args):
    from sdakd_basicsr.utils.profiling import parse_key_values
    runs = [(args.opt[0], parse_key_values(pairs, '--variant'), name) for name, *pairs in args.variant]
    runs += [(path, None, None) for path in args.opt]
    results = []
    for path, changes, name in runs:
        with tempfile.TemporaryDirectory(prefix='sdakd-stages-') as workdir:
            print(f'[stages] {name or path}: {args.iters} iterations per stage ...', file=sys.stderr, flush=True)
            results.append(measure_file(path, args, workdir, changes, name))
    return {'config': {'iters': args.iters, 'skip': args.skip, 'threads': torch.get_num_threads()},
            'files': results}


def format_markdown(result):
    config, files = result['config'], result['files']
    out = [f"Mean seconds per iteration of each part, over iterations {config['skip'] + 1} to "
           f"{config['iters'] - 1} of each stage (torch threads {config['threads']}); validation: one validation "
           'divided by the file\'s val_freq.', '']
    headers = ['run', 'stage'] + list(PARTS) + ['s/iter']
    if len(files) > 1:
        headers.append(f'× {files[0]["label"]}')
    table = []
    for result_of_file in files:
        for i, row in enumerate(result_of_file['stages']):
            cells = [result_of_file['label'], row['stage']]
            cells += [f"{row['parts'][part]:.3f}" for part in PARTS] + [f"{row['s_per_iter']:.3f}"]
            if len(files) > 1:
                cells.append(f"{row['s_per_iter'] / files[0]['stages'][i]['s_per_iter']:.2f}"
                             if i < len(files[0]['stages']) else '')
            table.append(cells)
    out.append(markdown_table(headers, table))
    for result_of_file in files:
        if result_of_file['changes']:
            out.append(f"\n{result_of_file['label']}: {os.path.basename(result_of_file['option_file'])} with "
                       + ', '.join(f'{k}={v!r}' for k, v in result_of_file['changes'].items()))
    return '\n'.join(out)


def main(argv=None):
    return run_benchmark('SDAKD training time per stage and part', parse_args(argv), benchmark, format_markdown)


if __name__ == '__main__':
    main()
