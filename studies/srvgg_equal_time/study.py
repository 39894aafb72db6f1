"""Compact students of the real x4plus teacher at equal wall-clock training time (docs/results.md).

Three configurations on the demo data (``python datasets/make_demo_data.py --out datasets/demo``), each a
real ``python -m basicsr.train`` run: SRVGGNetCompact 64/16 with SDAKD, RRDB 1/4 width with SDAKD, and
SRVGGNetCompact 64/16 without distillation. Steps (run each training under the CPU lock, one at a time):

    python studies/srvgg_equal_time/study.py calibrate               # s/iter of every stage of every config
    python studies/srvgg_equal_time/study.py train --config srvgg_sdakd --seed 0 --minutes 5   # each config and seed
    python studies/srvgg_equal_time/study.py evaluate                # every checkpoint of every run -> JSON + markdown
    python studies/srvgg_equal_time/study.py plot --benchmark B.json # needs matplotlib (optional)

``--work DIR`` (before the command) keeps another comparison apart, e.g. longer runs: copy
``calibration.json`` into DIR, then ``train`` and ``evaluate`` with the same ``--work``.

``train`` turns the measured s/iter (earlier full runs of the config, else the calibration) into stage lengths
so the run takes ``--minutes`` (stage iterations in the proportions of the option file) and saves six
checkpoints along the way. ``evaluate`` compares each
checkpoint's EMA generator with the teacher's output and the GT on held-out photos (the demo validation crops
plus centre crops of other scikit-image images none of the training tiles come from), bicubic-downscaled x4,
beside nearest-neighbour and bicubic upscaling (SRVGGNetCompact adds its output to the nearest-neighbour
upscaled input, so an untrained SRVGG starts at the nearest-neighbour row), and writes a grid of the final
students' outputs (``grid.png``, seed 0).
"""
import argparse
import glob
import json
import os
import statistics
import subprocess
import sys

import cv2
import numpy as np
import torch

import sdakd_basicsr  # noqa: F401  (torchvision fix before basicsr; registers the archs)
from sdakd_basicsr.metrics.evaluate import build_generator, build_teacher, default_crop_border, run_generator
from sdakd_basicsr.metrics.suite import MetricSuite, to_uint8_rgb
from sdakd_basicsr.utils.grid import grid, write_image
from sdakd_basicsr.utils.options import load_options, load_resolved_options, write_options
from sdakd_basicsr.utils.profiling import count_params, environment, load_average, markdown_table
from sdakd_basicsr.utils.training_log import iteration_times

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
#: run records, configs and results; --work picks another (relative to the working directory, the repo root)
WORK = os.path.join('experiments', 'srvgg_equal_time')

CONFIGS = {
    'srvgg_sdakd': ('SRVGG 64/16, SDAKD', 'options/demo/sdakd_realesrgan_x4plus_demo_srvgg64x16.yml'),
    'rrdb_sdakd': ('RRDB 1/4 width, SDAKD', 'options/demo/sdakd_realesrgan_x4plus_demo.yml'),
    'srvgg_nokd': ('SRVGG 64/16, no KD', 'options/demo/realesrgan_x4plus_demo_srvgg64x16_no_kd.yml'),
}
#: held-out scikit-image pictures besides the demo validation photos (centre crops; camera is grey -> 3 channels)
EXTRA_HELD_OUT = ('hubble_deep_field', 'retina', 'camera', 'immunohistochemistry')
CROP = 256
CHECKPOINTS_PER_RUN = 6


def run_training(opt, tag):
    """Write ``opt`` as ``<WORK>/configs/<tag>.yml`` and train it with ``python -m basicsr.train``; return its log."""
    path = os.path.join(WORK, 'configs', f'{tag}.yml')
    write_options(opt, path)
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.run([sys.executable, '-m', 'basicsr.train', '-opt', path], env=env, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        sys.exit(f'training {tag} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}')
    logs = sorted(glob.glob(os.path.join('experiments', opt['name'], 'train_*.log')))
    return open(logs[-1]).read()


def base_opt(config, name, total_iter, stages, seed, checkpoint_every):
    opt = load_options(os.path.join(REPO, CONFIGS[config][1]))
    opt['name'] = name
    opt['manual_seed'] = seed
    if 'bicubic_skip' in opt['sdakd']:  # the demo's student has one; the study compares the paper's plain RRDBNet
        opt['sdakd']['bicubic_skip'] = False
    scale = total_iter / opt['train']['total_iter']
    opt['train']['total_iter'] = total_iter
    opt['train']['stages'] = stages
    scheduler = opt['train'].get('scheduler', {})
    if 'milestones' in scheduler:  # the lr drops at the same fraction of every run, whatever its length
        scheduler['milestones'] = [max(1, int(round(m * scale))) for m in scheduler['milestones']]
    opt['val']['val_freq'] = 10 ** 9  # evaluated afterwards, on more images
    opt['logger'].update(print_freq=1, save_checkpoint_freq=checkpoint_every, use_tb_logger=False)
    return opt


def calibrate(args):
    """Short runs (``--iters`` per stage): median seconds per iteration of each stage of each config."""
    result = {}
    for config in CONFIGS:
        stages = load_options(os.path.join(REPO, CONFIGS[config][1]))['train']['stages']
        short = [dict(stage, iters=args.iters) for stage in stages]
        name = f'{os.path.basename(WORK)}_calibrate_{config}'
        log = run_training(base_opt(config, name, args.iters * len(stages), short, 0, 10 ** 9), name)
        times = iteration_times(log)
        per_stage = []
        for index in range(len(stages)):
            first = index * args.iters + 1
            # skip each stage's first iteration (lazy set-up, queue filling)
            per_stage.append(statistics.median(times[i] for i in range(first + 1, first + args.iters) if i in times))
        result[config] = dict(stages=[s['name'] for s in stages], stage_iters=[s['iters'] for s in stages],
                              seconds_per_iter=per_stage)
        print(config, [f'{s:.3f}' for s in per_stage], flush=True)
    result['load_average_after'] = load_average()
    os.makedirs(WORK, exist_ok=True)
    with open(os.path.join(WORK, 'calibration.json'), 'w') as handle:
        json.dump(result, handle, indent=2)


def train(args):
    """One run of ``--config`` with stage lengths that fill ``--minutes``: s/iter from earlier full runs of the same
    config when there are some, else from the calibration."""
    calibration_path = os.path.join(WORK, 'calibration.json')
    if not os.path.isfile(calibration_path):
        sys.exit(f'{calibration_path} is missing: run `calibrate` with the same --work first (or copy the file there)')
    calibration = json.load(open(calibration_path))[args.config]
    stages = load_options(os.path.join(REPO, CONFIGS[args.config][1]))['train']['stages']
    weights = np.array(calibration['stage_iters'], dtype=float)
    weights /= weights.sum()
    seconds_per_iter = float(np.dot(weights, calibration['seconds_per_iter']))
    earlier = [json.load(open(path)) for path in sorted(glob.glob(os.path.join(WORK, 'runs', '*.json')))]
    earlier = [r for r in earlier if r['config'] == args.config and r['total_iter'] > 1]
    if earlier:  # full runs measure s/iter better than the short calibration (queue filling, checkpoints)
        seconds_per_iter = float(np.mean([r['measured_train_seconds'] / (r['total_iter'] - 1) for r in earlier]))
    total = int(args.minutes * 60 / seconds_per_iter)
    every = max(1, total // CHECKPOINTS_PER_RUN)
    total = every * CHECKPOINTS_PER_RUN  # the last iteration is a numbered checkpoint too
    iters = [max(1, int(round(total * w))) for w in weights[:-1]]
    iters.append(total - sum(iters))
    stages = [dict(stage, iters=n) for stage, n in zip(stages, iters)]
    name = f'{os.path.basename(WORK)}_{args.config}_seed{args.seed}'
    log = run_training(base_opt(args.config, name, total, stages, args.seed, every), name)
    times = iteration_times(log)
    checkpoints = [i for i in range(1, total + 1) if i % every == 0 or i == total]
    record = dict(config=args.config, seed=args.seed, minutes_planned=args.minutes, stage_iters=iters,
                  total_iter=total, checkpoint_every=every, measured_train_seconds=sum(times.values()),
                  # wall-clock seconds from iteration 1 to each checkpoint (from the log's time stamps)
                  elapsed_at={i: sum(t for j, t in times.items() if j <= i) for i in checkpoints},
                  load_average_after=load_average())
    os.makedirs(os.path.join(WORK, 'runs'), exist_ok=True)
    with open(os.path.join(WORK, 'runs', f'{name}.json'), 'w') as handle:
        json.dump(record, handle, indent=2)
    print(f'{name}: {total} iterations {iters} in {record["measured_train_seconds"]:.0f} s', flush=True)


# ---------------------------------------------------------------------------------------------- evaluation
def held_out_images():
    """[(name, GT RGB uint8 256x256, LR RGB uint8 64x64)]: the demo validation crops, then the extra photos."""
    from sdakd_basicsr.data import demo_data
    demo = vars(demo_data)
    import skimage.data
    images = []
    for name in demo['VAL_PHOTOS']:
        images.append((name, demo['centre_crop'](demo['load_photo'](name), CROP)))
    for name in EXTRA_HELD_OUT:
        photo = getattr(skimage.data, name)()
        if photo.ndim == 2:
            photo = np.repeat(photo[..., None], 3, axis=2)
        images.append((name, demo['centre_crop'](photo, CROP)))
    used = set(demo['TRAIN_PHOTOS'])
    assert not used & {name for name, _ in images}, 'held-out photos must not be training photos'
    return [(name, gt, demo['bicubic_downscale'](gt)) for name, gt in images]


def to_tensor(rgb):
    return torch.from_numpy(rgb.astype(np.float32) / 255.).permute(2, 0, 1)[None]


class Scorer:
    """PSNR to the GT and to the teacher's output, and NIQE, with the evaluator's metrics and crop border."""

    def __init__(self, crop_border):
        self.with_niqe = MetricSuite(('psnr', 'niqe'), crop_border)
        self.psnr_only = MetricSuite(('psnr', ), crop_border)

    def __call__(self, sr, gt, teacher):
        sr = to_tensor(sr)
        values = self.with_niqe.image_metrics(sr, to_tensor(gt))
        return dict(psnr_gt=values['psnr'], psnr_teacher=self.psnr_only.image_metrics(sr, to_tensor(teacher))['psnr'],
                    niqe=values['niqe'])


def interpolated(lq, mode):
    return cv2.resize(lq, (CROP, CROP), interpolation={'nearest': cv2.INTER_NEAREST, 'bicubic': cv2.INTER_CUBIC}[mode])


def mean_metrics(per_image):
    return {key: float(np.mean([m[key] for m in per_image])) for key in per_image[0]}


def evaluate(args):
    """Every checkpoint of every finished run: metrics on the held-out photos, written as JSON and markdown."""
    images = held_out_images()
    demo_opt, family = load_resolved_options(os.path.join(REPO, CONFIGS['rrdb_sdakd'][1]))
    score = Scorer(default_crop_border(demo_opt, family))
    upscale = lambda net, lq: to_uint8_rgb(run_generator(net, family, {'lq': to_tensor(lq)}, 'cpu'))  # noqa: E731
    teacher = build_teacher(demo_opt, 'cpu')[0]
    teacher_out = [upscale(teacher, lq) for _, _, lq in images]
    reference = dict(teacher=mean_metrics([score(t, gt, t) for t, (_, gt, _) in zip(teacher_out, images)]))
    for mode in ('nearest', 'bicubic'):
        reference[mode] = mean_metrics([score(interpolated(lq, mode), gt, t_out)
                                        for (_, gt, lq), t_out in zip(images, teacher_out)])
    grid_columns = [('nearest', [interpolated(lq, 'nearest') for _, _, lq in images]),
                    ('bicubic', [interpolated(lq, 'bicubic') for _, _, lq in images])]
    runs = []
    for record_path in sorted(glob.glob(os.path.join(WORK, 'runs', '*.json'))):
        record = json.load(open(record_path))
        opt, _ = load_resolved_options(os.path.join(REPO, CONFIGS[record['config']][1]))
        name = os.path.basename(record_path)[:-5]
        checkpoints = sorted(glob.glob(os.path.join('experiments', name, 'models', 'net_g_[0-9]*.pth')),
                             key=lambda p: int(p.rsplit('_', 1)[1][:-4]))
        curve = []
        elapsed = {int(k): v for k, v in record['elapsed_at'].items()}
        for path in checkpoints:
            iteration = int(path.rsplit('_', 1)[1][:-4])
            net = build_generator(opt['network_g'], path, 'params_ema', path, 'network_g', 'cpu')[0]
            outputs = [upscale(net, lq) for _, _, lq in images]
            per_image = [score(sr, gt, t_out) for sr, (_, gt, _), t_out in zip(outputs, images, teacher_out)]
            curve.append(dict(iter=iteration, minutes=elapsed.get(iteration, float('nan')) / 60,
                              **mean_metrics(per_image)))
        if curve:
            runs.append(dict(record, name=name, params=count_params(net), curve=curve))
            if record['seed'] == 0:
                grid_columns.append((CONFIGS[record['config']][0], outputs))
    grid_columns += [('teacher', teacher_out), ('GT', [gt for _, gt, _ in images])]
    write_grid(grid_columns, os.path.join(WORK, 'grid.png'))
    result = dict(environment=environment(), load_average_after=load_average(), reference=reference,
                  images=[name for name, _, _ in images], runs=runs)
    with open(os.path.join(WORK, 'evaluation.json'), 'w') as handle:
        json.dump(result, handle, indent=2)
    print(summary_table(result))
    for key in ('psnr_teacher', 'psnr_gt', 'niqe') if runs else ():
        print(f'\n{key} at equal training minutes:\n' + at_minutes_table(result, key))


def write_grid(columns, path, crop=128):
    """One row per held-out image (its centre ``crop``), one column per method, titles above the first row."""
    def centre(img):
        offset = (img.shape[0] - crop) // 2
        return np.ascontiguousarray(img[offset:offset + crop, offset:offset + crop, ::-1])
    rows = [[centre(outputs[index]) for _, outputs in columns] for index in range(len(columns[0][1]))]
    write_image(path, grid([title[:22] for title, _ in columns], rows))
    print(f'wrote {path}')


def summary_table(result):
    """Final metrics per config, mean ± spread over seeds, below the references (teacher, nearest, bicubic)."""
    rows = []
    for key, ref in result['reference'].items():
        rows.append([key, '', '', '', f"{ref['psnr_gt']:.2f}", f"{ref['psnr_teacher']:.2f}"
                     if key != 'teacher' else '∞', f"{ref['niqe']:.2f}"])
    for config, (label, _) in CONFIGS.items():
        runs = [r for r in result['runs'] if r['config'] == config]
        if not runs:
            continue
        finals = [r['curve'][-1] for r in runs]

        def cell(key, digits=2):
            values = [f[key] for f in finals]
            return f'{np.mean(values):.{digits}f} ± {np.std(values):.{digits}f}' if len(values) > 1 else \
                f'{values[0]:.{digits}f}'
        rows.append([label, str(len(runs)), ', '.join(str(r['total_iter']) for r in runs),
                     ', '.join(f"{r['measured_train_seconds'] / 60:.1f}" for r in runs),
                     cell('psnr_gt'), cell('psnr_teacher'), cell('niqe')])
    return markdown_table(['Student', 'Seeds', 'Iterations', 'Train minutes', 'PSNR to GT (dB)',
                           'PSNR to teacher (dB)', 'NIQE'], rows)


def plot(args):
    """PSNR to the teacher and NIQE against training minutes, and final PSNR against CPU latency (matplotlib)."""
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit('plot needs matplotlib: pip install matplotlib')
    result = json.load(open(os.path.join(WORK, 'evaluation.json')))
    latency = {}
    if args.benchmark:
        rows = json.load(open(args.benchmark))['rows']
        by_label = {row['label']: row['sizes'][str(args.size)]['seconds'] * 1000 for row in rows}
        latency = {'srvgg_sdakd': by_label.get('SRVGG 64/16'), 'srvgg_nokd': by_label.get('SRVGG 64/16'),
                   'rrdb_sdakd': by_label.get('RRDB 1/4 width')}
    panels = [('psnr_teacher', 'PSNR to the teacher (dB)'), ('niqe', 'NIQE (lower is better)')]
    fig, axes = plt.subplots(1, len(panels) + bool(latency), figsize=(5 * (len(panels) + bool(latency)), 4),
                             squeeze=False)
    axes = axes[0]
    colours = dict(zip(CONFIGS, ('tab:blue', 'tab:orange', 'tab:green')))
    for ax, (key, ylabel) in zip(axes, panels):
        for config, (label, _) in CONFIGS.items():
            for i, run in enumerate(r for r in result['runs'] if r['config'] == config):
                ax.plot([p['minutes'] for p in run['curve']], [p[key] for p in run['curve']], marker='o',
                        color=colours[config], alpha=0.8, label=label if i == 0 else None)
        for name, style in (('nearest', ':'), ('bicubic', '--'), ('teacher', '-.')):
            if name != 'teacher' or key != 'psnr_teacher':
                ax.axhline(result['reference'][name][key], color='grey', linestyle=style, label=name)
        ax.set(xlabel='training minutes (2-core CPU)', ylabel=ylabel, title='held-out photos, EMA generator')
        ax.legend(fontsize=8)
    if latency:
        for config, (label, _) in CONFIGS.items():
            finals = [r['curve'][-1] for r in result['runs'] if r['config'] == config]
            if finals and latency.get(config):
                axes[-1].errorbar(latency[config], np.mean([f['psnr_teacher'] for f in finals]),
                                  yerr=np.std([f['psnr_teacher'] for f in finals]), fmt='o', color=colours[config],
                                  label=label, capsize=3)
        axes[-1].set(xscale='log', xlabel=f'CPU latency at {args.size}² LR, batch 1 (ms)',
                     ylabel='PSNR to the teacher (dB)', title='after equal training time')
        axes[-1].legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f'wrote {args.out}')


def at_minutes_table(result, key='psnr_teacher', minutes=None):
    """``key`` at given training minutes (linear between checkpoints; blank outside a run), mean over seeds; by
    default every half minute up to the shortest run's end."""
    if minutes is None:
        end = min(r['curve'][-1]['minutes'] for r in result['runs'])
        minutes = [m / 2 for m in range(1, int(end * 2) + 1)]
    headers = ['Student'] + [f'{m:g} min' for m in minutes]
    rows = []
    for config, (label, _) in CONFIGS.items():
        runs = [r for r in result['runs'] if r['config'] == config]
        if not runs:
            continue
        cells = [label]
        for m in minutes:
            values = [np.interp(m, [p['minutes'] for p in r['curve']], [p[key] for p in r['curve']])
                      for r in runs if r['curve'][0]['minutes'] <= m <= r['curve'][-1]['minutes']]
            cells.append(f'{np.mean(values):.2f} (n={len(values)})' if values else '')
        rows.append(cells)
    return markdown_table(headers, rows)


def main(argv=None):
    global WORK  # every command reads and writes under it
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--work', default=WORK,
                        help='folder of this comparison (its calibration, runs and results); also the run-name prefix')
    sub = parser.add_subparsers(dest='command', required=True)
    cal = sub.add_parser('calibrate')
    cal.add_argument('--iters', type=int, default=6, help='iterations per stage of each short run')
    tr = sub.add_parser('train')
    tr.add_argument('--config', choices=sorted(CONFIGS), required=True)
    tr.add_argument('--seed', type=int, default=0)
    tr.add_argument('--minutes', type=float, default=5.0, help='wall-clock training time to fill')
    sub.add_parser('evaluate')
    pl = sub.add_parser('plot')
    pl.add_argument('--benchmark', default=None, help='JSON of benchmark_students.py (latency panel)')
    pl.add_argument('--size', type=int, default=64, help='LR size whose latency is plotted')
    pl.add_argument('--out', default='docs/figures/srvgg_equal_time.png')
    args = parser.parse_args(argv)
    WORK = args.work.rstrip('/')
    {'calibrate': calibrate, 'train': train, 'evaluate': evaluate, 'plot': plot}[args.command](args)


if __name__ == '__main__':
    main()
