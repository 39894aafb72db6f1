"""A run's learning curve: every saved student checkpoint against the teacher on a held-out set, per training minute.

    python -m sdakd_basicsr.metrics.learning_curve experiments/<name> \\
        --lq datasets/held_out/lq --gt datasets/held_out/gt

For each ``models/net_g_<iter>.pth`` of the experiment (EMA weights) it measures, as means over the images: PSNR to
the teacher's output and to the GT (RGB, the family's border cropped), NIQE of the output, and the largest
per-channel colour offset to the teacher (grey levels). The teacher and bicubic are computed once, as reference
rows. The networks run on the LR image mirrored outwards by ``--pre-pad`` px, as the inference command runs them.

Training minutes come from the run's logs (every ``train_*.log`` of the experiment, so a run that was cut and
resumed counts only the time it trained, not the pause), validations and checkpoint saving included; the
time before a log's first logged iteration is estimated from that log's median seconds per iteration.
Writes ``<experiment>/learning_curve/curve.json`` and ``curve.md`` (``--out`` elsewhere).
"""
import argparse
import glob
import json
import os
import re
import statistics

import torch

import sdakd_basicsr  # noqa: F401  (registers archs; torchvision fix before basicsr)
from sdakd_basicsr.deploy.runner import DEFAULT_PRE_PAD
from sdakd_basicsr.metrics.artefacts import colour_offsets
from sdakd_basicsr.metrics.evaluate import (build_generator, build_teacher, default_crop_border,
                                            experiment_option_file, mean_or_none, run_generator)
from sdakd_basicsr.metrics.suite import MetricSuite, to_uint8_rgb
from sdakd_basicsr.utils.options import load_resolved_options
from sdakd_basicsr.utils.training_log import logged_iteration_times

_CHECKPOINT = re.compile(r'net_g_(\d+)\.pth$')


def checkpoints(models_dir):
    """``[(iteration, path)]`` of a run's numbered generator checkpoints, in order (``net_g_latest`` left out)."""
    found = []
    for path in glob.glob(os.path.join(models_dir, 'net_g_*.pth')):
        match = _CHECKPOINT.search(os.path.basename(path))
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def training_seconds(log_texts):
    """``{iteration: seconds of training up to it}`` over one or several logs of a run (cut and resumed).

    Within a log, the time between two logged iterations is taken as it is. A log's first logged iteration adds
    the iterations since the previous log's last (or since 0) at that log's median seconds per iteration, so the
    start-up and the pause between a cut and its resume are not counted as training.
    """
    elapsed, last_iter, total = {}, 0, 0.0
    for text in log_texts:
        stamps = logged_iteration_times(text)
        iters = sorted(i for i in stamps if i > last_iter)
        if not iters:
            continue
        rates = [(stamps[b] - stamps[a]).total_seconds() / (b - a) for a, b in zip(iters, iters[1:])]
        rate = statistics.median(rates) if rates else 0.0
        total += (iters[0] - last_iter) * rate
        elapsed[iters[0]] = total
        for a, b in zip(iters, iters[1:]):
            total += (stamps[b] - stamps[a]).total_seconds()
            elapsed[b] = total
        last_iter = iters[-1]
    return elapsed


def minutes_at(elapsed, iteration):
    """Training minutes at ``iteration``, linear between the nearest logged iterations (None outside them)."""
    if iteration in elapsed:
        return elapsed[iteration] / 60
    below = [i for i in elapsed if i < iteration]
    above = [i for i in elapsed if i > iteration]
    if not below or not above:
        return None
    a, b = max(below), min(above)
    return (elapsed[a] + (elapsed[b] - elapsed[a]) * (iteration - a) / (b - a)) / 60


class HeldOutScorer:
    """The held-out images, the teacher's outputs on them (computed once) and the scores of any generator's outputs.

    Args:
        opt_path (str): The run's option file (teacher, family, scale).
        gt (str | None): GT folder (default: the option file's validation GT).
        lq (str | None): LR folder (default: the family's evaluation inputs).
        pre_pad (int): Reflection pre-padding of the LR images in px.
        device (str): Torch device.
    """

    def __init__(self, opt_path, gt=None, lq=None, pre_pad=DEFAULT_PRE_PAD, device='cpu'):
        self.opt, self.family = load_resolved_options(opt_path)
        self.device, self.pre_pad = torch.device(device), pre_pad
        (self.info, samples), *_ = self.family.evaluation_sets(self.opt, gt=gt, lq=lq)
        self.samples = list(samples())
        if not self.samples:
            raise ValueError(f'no images in {self.info["gt_dir"]}')
        self.crop_border = default_crop_border(self.opt, self.family)
        self._to_gt = MetricSuite(('psnr', 'niqe'), self.crop_border)
        self._to_teacher = MetricSuite(('psnr', ), self.crop_border)
        self.teacher_outputs = self.run(build_teacher(self.opt, self.device)[0])
        teacher = self.score(self.teacher_outputs)
        self.references = {'bicubic': self.score([s['bicubic'].clamp(0, 1) for s in self.samples]),
                           'teacher': dict(psnr_gt=teacher['psnr_gt'], niqe=teacher['niqe'])}

    def run(self, net):
        """The network's outputs on every held-out image."""
        return [run_generator(net, self.family, s['inputs'], self.device, self.pre_pad) for s in self.samples]

    def score(self, outputs):
        """Means over the images: PSNR to the GT and to the teacher, NIQE, largest colour offset to the teacher."""
        rows = []
        for sample, out, ref in zip(self.samples, outputs, self.teacher_outputs):
            metrics = self._to_gt.image_metrics(out, sample['gt'])
            offsets = colour_offsets(to_uint8_rgb(out), to_uint8_rgb(ref))
            rows.append(dict(psnr_gt=metrics['psnr'], niqe=metrics['niqe'],
                             psnr_teacher=self._to_teacher.image_metrics(out, ref)['psnr'],
                             colour=max(abs(v) for v in offsets)))
        return {k: mean_or_none([r[k] for r in rows]) for k in rows[0]}  # NIQE: None below 96 px

    def student_outputs(self, path, key='params_ema'):
        """The outputs of one student checkpoint on every held-out image."""
        return self.run(build_generator(self.opt['network_g'], path, key, path, 'network_g', self.device)[0])

    def checkpoint(self, path, key='params_ema'):
        """Scores of one student checkpoint."""
        return self.score(self.student_outputs(path, key))


def learning_curve(scorer, exp_dir, key='params_ema'):
    """Score every numbered checkpoint of ``exp_dir``; returns ``{'references': {...}, 'points': [...], ...}``."""
    found = checkpoints(os.path.join(exp_dir, 'models'))
    if not found:
        raise SystemExit(f'no numbered checkpoints (net_g_<iter>.pth) in {os.path.join(exp_dir, "models")}: '
                         'set logger.save_checkpoint_freq so the run saves them')
    logs = sorted(glob.glob(os.path.join(exp_dir, 'train_*.log')))
    elapsed = training_seconds([open(path, encoding='utf-8').read() for path in logs])
    points = []
    for iteration, path in found:
        point = scorer.checkpoint(path, key)
        point.update(iteration=iteration, minutes=minutes_at(elapsed, iteration))
        points.append(point)
        print(f'{os.path.basename(os.path.normpath(exp_dir))} iter {iteration}: '
              f'{point["psnr_teacher"]:.2f} dB to the teacher, NIQE {_number(point["niqe"])}')
    return {'experiment': exp_dir, 'images': [s['name'] for s in scorer.samples], 'gt_dir': scorer.info['gt_dir'],
            'pre_pad': scorer.pre_pad, 'crop_border': scorer.crop_border, 'references': scorer.references,
            'points': points}


def _number(value, digits=2):
    return '' if value is None else f'{value:.{digits}f}'


def markdown(curve):
    """The curve as a markdown table, reference rows first."""
    def cells(row):
        return ' | '.join(_number(row.get(k), 1 if k == 'colour' else 2)
                          for k in ('psnr_teacher', 'psnr_gt', 'niqe', 'colour'))
    lines = ['| student at iteration | training minutes | PSNR to teacher (dB) | PSNR to GT (dB) | NIQE ↓ | '
             'largest colour offset to teacher |', '| --- | --- | --- | --- | --- | --- |']
    for name, row in curve['references'].items():
        lines.append(f'| {name} | | {cells(row)} |')
    for point in curve['points']:
        lines.append(f'| {point["iteration"]} | {_number(point["minutes"], 1)} | {cells(point)} |')
    return '\n'.join(lines) + (f'\n\nMeans over {len(curve["images"])} images of `{curve["gt_dir"]}`; EMA weights; '
                               f'inputs mirrored by {curve["pre_pad"]} px; PSNR on RGB with a '
                               f'{curve["crop_border"]} px border cropped; colour offset in grey levels.\n')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument('experiment', help='experiment folder written by python -m basicsr.train')
    parser.add_argument('-opt', help='option file (default: the one basicsr copied into the experiment folder)')
    parser.add_argument('--gt', help='GT folder (default: the option file\'s validation GT)')
    parser.add_argument('--lq', help='LR folder (default: the family\'s evaluation inputs; '
                        'Real-ESRGAN: the GT degraded once)')
    parser.add_argument('--pre-pad', type=int, default=DEFAULT_PRE_PAD, help='reflection pre-padding in LR px')
    parser.add_argument('--out', help='output folder (default: <experiment>/learning_curve)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    args = parser.parse_args(argv)
    if args.pre_pad < 0:
        parser.error(f'--pre-pad {args.pre_pad} must be 0 or more')
    opt_path = args.opt or experiment_option_file(args.experiment)
    curve = learning_curve(HeldOutScorer(opt_path, args.gt, args.lq, args.pre_pad, args.device), args.experiment)
    curve['option_file'] = opt_path
    write_results(args.out or os.path.join(args.experiment, 'learning_curve'), 'curve', curve, markdown(curve))
    return curve


def write_results(folder, stem, data, table):
    """``<folder>/<stem>.json`` (the numbers) and ``<stem>.md`` (the table), and the table on the console."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f'{stem}.json'), 'w') as handle:
        json.dump(data, handle, indent=1)
    with open(os.path.join(folder, f'{stem}.md'), 'w') as handle:
        handle.write(table)
    print(table)


if __name__ == '__main__':
    main()
