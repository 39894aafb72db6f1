"""The paper's mechanism on this CPU: which discriminator lets a narrow student keep learning (docs/results.md).

From the end of stage 1 of the one-hour run (``options/demo/sdakd_realesrgan_x4plus_cpu_hour.yml``: a shared
trunk, the 1/4-width student after supervised + output distillation, whose discriminator has not trained yet),
three branches run the remaining stages (distill, then adversarial) with, per seed:

* ``student_d``: SDAKD's capacity-matched student discriminator (UNet D at the student's width, ``num_feat`` 16);
* ``teacher_size_d``: a teacher-size UNet D (``num_feat`` 64, ``sdakd.d_width: 1``), trained the same way from the
  same point (the converted teacher ships no discriminator, so both Ds start from scratch at the branch);
* ``no_d``: no discriminator at all, output and feature distillation only (the GAN loss left out).

Each branch is a real ``python -m basicsr.train`` run initialised from the trunk's checkpoint (generator and its
EMA; fresh Adam states, the trunk's learning rate, its lr halving at the adversarial stage). Steps (one at a time,
each resumable: a finished branch is skipped, a cut one resumes)::

    python studies/discriminator_capacity/study.py train --seeds 0 1 2 --distill-iters 100 --adversarial-iters 200
    python studies/discriminator_capacity/study.py evaluate   # held-out photos -> JSON + markdown + grid

``evaluate`` scores every checkpoint of every branch on the held-out photos
(``python -m sdakd_basicsr.data.held_out_photos``) with :mod:`sdakd_basicsr.metrics.learning_curve`, and reads the
discriminator diagnostics (``diag_d_wins``, ``diag_d_gap``; :mod:`sdakd_basicsr.utils.gan_diagnostics`) from the
branches' logs.
"""
import argparse
import glob
import os
import re
import statistics
import subprocess
import sys

import numpy as np

import sdakd_basicsr  # noqa: F401  (torchvision fix before basicsr; registers the archs)
from sdakd_basicsr.metrics.evaluate import experiment_option_file
from sdakd_basicsr.metrics.learning_curve import HeldOutScorer, learning_curve, write_results
from sdakd_basicsr.metrics.suite import to_uint8_rgb
from sdakd_basicsr.utils.grid import grid, write_image
from sdakd_basicsr.utils.options import load_options, write_options
from sdakd_basicsr.utils.profiling import environment

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRUNK_OPT = 'options/demo/sdakd_realesrgan_x4plus_cpu_hour.yml'
WORK = os.path.join('experiments', 'discriminator_capacity')
BRANCHES = {
    'student_d': 'student D (SDAKD)',
    'teacher_size_d': 'teacher-size D',
    'no_d': 'no D (distillation only)',
}
_DIAG = re.compile(r'iter:\s*([\d,]+),.*?diag_d_wins: (\S+)(?: diag_d_gap: (\S+))?')


def trunk_point(trunk_opt):
    """(experiment folder, iteration) of the trunk's end of stage 1."""
    opt = load_options(os.path.join(REPO, trunk_opt))
    return os.path.join('experiments', opt['name']), int(opt['train']['stages'][0]['iters'])


def branch_opt(branch, seed, args):
    """The option dict of one branch: the trunk's file, started from its stage-1 checkpoint."""
    opt = load_options(os.path.join(REPO, args.trunk_opt))
    trunk_dir, trunk_iter = trunk_point(args.trunk_opt)
    checkpoint = os.path.join(trunk_dir, 'models', f'net_g_{trunk_iter}.pth')
    if not os.path.isfile(checkpoint):
        sys.exit(f'{checkpoint} is missing: train the trunk ({args.trunk_opt}) past iteration {trunk_iter} first')
    opt['name'] = f'dcap_{branch}_s{seed}'
    opt['manual_seed'] = seed
    opt['path'].update(pretrain_network_g=checkpoint, param_key_g='params', strict_load_g=True)
    distill, adversarial = (dict(stage) for stage in opt['train']['stages'][1:3])
    distill['iters'], adversarial['iters'] = args.distill_iters, args.adversarial_iters
    if branch == 'teacher_size_d':
        opt['sdakd']['d_width'] = 1
    if branch == 'no_d':
        for stage in (distill, adversarial):
            stage.pop('train_d', None)
            stage['losses'] = [term for term in stage['losses'] if term != 'gan']
    opt['train']['stages'] = [distill, adversarial]
    opt['train']['total_iter'] = args.distill_iters + args.adversarial_iters
    opt['train']['scheduler']['milestones'] = [args.distill_iters]  # the trunk halves the lr at the GAN stage
    total = opt['train']['total_iter']
    opt['val']['val_freq'] = 10 ** 9  # scored afterwards on the held-out photos
    every = args.checkpoint_every or max(1, total // 3)
    opt['logger'].update(print_freq=1, save_checkpoint_freq=every, use_tb_logger=False)
    return opt


def train(args):
    for seed in args.seeds:
        for branch in args.branches:
            opt = branch_opt(branch, seed, args)
            total = opt['train']['total_iter']
            if os.path.isfile(os.path.join('experiments', opt['name'], 'models', f'net_g_{total}.pth')):
                print(f'{opt["name"]}: done, skipped', flush=True)
                continue
            path = os.path.join(WORK, 'configs', f'{opt["name"]}.yml')
            write_options(opt, path)
            command = [sys.executable, '-m', 'basicsr.train', '-opt', path, '--auto_resume']
            proc = subprocess.run(command, env=dict(os.environ, PYTHONPATH=REPO), capture_output=True, text=True)
            if proc.returncode != 0:
                sys.exit(f'{opt["name"]} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}')
            print(f'{opt["name"]}: {total} iterations', flush=True)


def diagnostics(exp_dir, first_adversarial):
    """Per logged iteration of the adversarial stage: D win share and G–D gap, from the branch's logs."""
    wins, gaps = {}, {}
    for path in sorted(glob.glob(os.path.join(exp_dir, 'train_*.log'))):
        for match in _DIAG.finditer(open(path, encoding='utf-8').read()):
            iteration = int(match.group(1).replace(',', ''))
            if iteration >= first_adversarial:
                wins[iteration] = float(match.group(2))
                if match.group(3):
                    gaps[iteration] = float(match.group(3))
    return wins, gaps


def mean_std(values):
    values = [v for v in values if v is not None]
    if not values:
        return '–'
    return f'{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}' if len(values) > 1 else f'{values[0]:.2f}'


def evaluate(args):
    trunk_dir, trunk_iter = trunk_point(args.trunk_opt)
    scorer = HeldOutScorer(os.path.join(REPO, args.trunk_opt), gt=os.path.join(args.held_out, 'gt'),
                           lq=os.path.join(args.held_out, 'lq'))
    start = scorer.checkpoint(os.path.join(trunk_dir, 'models', f'net_g_{trunk_iter}.pth'))
    result = dict(trunk=trunk_dir, trunk_iter=trunk_iter, start=start, references=scorer.references, runs={},
                  environment=environment())
    finals = {}
    for path in sorted(glob.glob(os.path.join('experiments', 'dcap_*_s*'))):
        match = re.match(r'dcap_(.+)_s(\d+)$', os.path.basename(path))
        if not match or match.group(1) not in BRANCHES:
            continue
        opt = load_options(experiment_option_file(path))
        first_adversarial = opt['train']['stages'][0]['iters'] + 1
        curve = learning_curve(scorer, path)
        wins, gaps = diagnostics(path, first_adversarial)
        halves = np.array_split(sorted(wins), 2) if wins else []
        result['runs'][os.path.basename(path)] = dict(
            branch=match.group(1), seed=int(match.group(2)), points=curve['points'],
            d_win_share=[statistics.mean(wins[i] for i in half) for half in halves if len(half)],
            gd_gap=[statistics.mean(gaps[i] for i in half if i in gaps) if any(i in gaps for i in half) else None
                    for half in halves])
        if match.group(2) == '0':
            net_path = os.path.join(path, 'models', f'net_g_{curve["points"][-1]["iteration"]}.pth')
            finals[match.group(1)] = scorer.student_outputs(net_path)
    write_results(WORK, 'results', result, summary(result))
    if finals:
        columns = [('teacher', scorer.teacher_outputs)] + [(BRANCHES[b], finals[b]) for b in BRANCHES if b in finals]
        columns.append(('bicubic', [s['bicubic'].clamp(0, 1) for s in scorer.samples]))
        rows = [[centre(to_uint8_rgb(outputs[i])) for _, outputs in columns] for i in args.grid_images]
        write_image(os.path.join(WORK, 'grid.png'), grid([title[:24] for title, _ in columns], rows))


def centre(rgb, crop=160):
    top, left = (rgb.shape[0] - crop) // 2, (rgb.shape[1] - crop) // 2
    return np.ascontiguousarray(rgb[top:top + crop, left:left + crop, ::-1])


def summary(result):
    runs = result['runs']
    lines = ['| branch | seeds | iteration | PSNR to teacher (dB) | NIQE ↓ | D win share (1st / 2nd half of GAN stage) '
             '| G–D loss gap (1st / 2nd half) |', '| --- | --- | --- | --- | --- | --- | --- |',
             f'| trunk, end of stage 1 | – | {result["trunk_iter"]} (0 here) | {result["start"]["psnr_teacher"]:.2f} | '
             f'{result["start"]["niqe"]:.2f} | | |']
    for branch, title in BRANCHES.items():
        mine = [r for r in runs.values() if r['branch'] == branch]
        if not mine:
            continue
        for index, point in enumerate(mine[0]['points']):
            at = [r['points'][index] for r in mine if len(r['points']) > index]
            diag = ''
            if index == len(mine[0]['points']) - 1:
                wins = [' / '.join(f'{w:.2f}' for w in r['d_win_share']) for r in mine if r['d_win_share']]
                gaps = [' / '.join('–' if g is None else f'{g:+.2f}' for g in r['gd_gap']) for r in mine
                        if r['gd_gap']]
                diag = f'{"; ".join(wins) or "–"} | {"; ".join(gaps) or "–"}'
            else:
                diag = ' | '
            lines.append(f'| {title} | {len(at)} | {point["iteration"]} | {mean_std([p["psnr_teacher"] for p in at])} '
                         f'| {mean_std([p["niqe"] for p in at])} | {diag} |')
    ref = result['references']
    lines.append(f'| bicubic | | | {ref["bicubic"]["psnr_teacher"]:.2f} | {ref["bicubic"]["niqe"]:.2f} | | |')
    lines.append(f'| teacher | | | | {ref["teacher"]["niqe"]:.2f} | | |')
    return '\n'.join(lines) + '\n'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument('--trunk-opt', default=TRUNK_OPT, help='the trunk run\'s option file (default: %(default)s)')
    sub = parser.add_subparsers(dest='command', required=True)
    run = sub.add_parser('train', help='train the branches not yet finished, one after another')
    run.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    run.add_argument('--branches', nargs='+', choices=list(BRANCHES), default=list(BRANCHES))
    run.add_argument('--distill-iters', type=int, default=100)
    run.add_argument('--adversarial-iters', type=int, default=200)
    run.add_argument('--checkpoint-every', type=int, default=None, help='default: a third of the branch')
    ev = sub.add_parser('evaluate', help='score every branch checkpoint on the held-out photos')
    ev.add_argument('--held-out', default=os.path.join('datasets', 'held_out'))
    ev.add_argument('--grid-images', nargs='+', type=int, default=[0, 4, 8], help='held-out image indices in grid.png')
    args = parser.parse_args(argv)
    (train if args.command == 'train' else evaluate)(args)


if __name__ == '__main__':
    main()
