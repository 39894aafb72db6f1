"""Compare a distilled student with its teacher on a paired validation set: side-by-side images and a report.

    python -m sdakd_basicsr.compare -opt options/demo/sdakd_realesrgan_x4plus_demo.yml

For every validation image it writes a side-by-side PNG (bicubic | student | teacher | GT, each whole at the
GT's size under a caption) and ``report.md``: PSNR to the GT, PSNR of the student and of bicubic to the
teacher's output, NIQE, parameters and median latency of teacher and student on the first LR image, and, from the
experiment's training log, the iterations and wall time of every SDAKD stage; and the student's artefacts against
the teacher (:mod:`sdakd_basicsr.metrics.artefacts`: a dark frame, a colour cast). Both networks run as the
inference command runs them: the LR image mirrored outwards by ``--pre-pad`` pixels, the output cropped back (the
frame is also reported without it). Inputs, metrics and crop border are the evaluator's
(:mod:`sdakd_basicsr.metrics.evaluate`); defaults come from the option file: the teacher
(``path.pretrain_network_g_teacher``), the student (``experiments/<name>/models``, newest, ``params_ema``) and
the validation set (``datasets.val``).
"""
import argparse
import glob
import os

import torch

import sdakd_basicsr  # noqa: F401  (registers archs; torchvision fix before basicsr)
from sdakd_basicsr.deploy.runner import DEFAULT_PRE_PAD
from sdakd_basicsr.metrics import eval_data
from sdakd_basicsr.metrics.artefacts import (COLOUR_OFFSET_LIMIT, FRAME_EXCESS_LIMIT, artefact_report, colour_offsets,
                                             frame_excess)
from sdakd_basicsr.metrics.evaluate import (build_generator, build_teacher, default_crop_border, efficiency,
                                            latest_checkpoint, run_generator)
from sdakd_basicsr.metrics.suite import MetricSuite, to_uint8_rgb
from sdakd_basicsr.utils.cli_args import non_negative_int
from sdakd_basicsr.utils.grid import side_by_side, write_image
from sdakd_basicsr.utils.options import load_resolved_options
from sdakd_basicsr.utils.training_log import stage_timings

METHODS = ('bicubic', 'student', 'teacher')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-opt', required=True, help='the SDAKD option file the student was trained with')
    parser.add_argument('--student', default=None, help='student checkpoint (default: the experiment\'s newest)')
    parser.add_argument('--student-key', default='params_ema', help='entry of the student checkpoint')
    parser.add_argument('--lq', default=None, help='LR folder (default: datasets.val.dataroot_lq)')
    parser.add_argument('--gt', default=None, help='GT folder (default: datasets.val.dataroot_gt)')
    parser.add_argument('--out', default=None, help='output folder (default: experiments/<name>/comparison)')
    parser.add_argument('--log', default=None, help='training log (default: the experiment\'s newest train_*.log)')
    parser.add_argument('--repeats', type=int, default=5, help='timed runs per network (median reported)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--pre-pad', type=non_negative_int, default=DEFAULT_PRE_PAD,
                        help='LR pixels mirrored outwards before both networks, as the inference command does '
                             '(default %(default)s; 0 = the networks\' own zero padding at the border)')
    return parser.parse_args(argv)


def latest_training_log(exp_dir):
    """The newest ``train_*.log`` of an experiment folder, or None."""
    logs = sorted(glob.glob(os.path.join(exp_dir, 'train_*.log')), key=os.path.getmtime)
    return logs[-1] if logs else None


def stage_table(log_path):
    """Markdown lines for :func:`stage_timings` of ``log_path`` (a note when there is no log)."""
    if log_path is None:
        return ['No training log found in the experiment folder: stage iterations and times unknown.']
    with open(log_path, encoding='utf-8') as handle:
        timings = stage_timings(handle.read())
    if not timings['stages']:
        return [f'`{log_path}` has no SDAKD stage lines: stage iterations and times unknown.']
    lines = ['| stage | iterations | wall time | s per iteration |', '| --- | --- | --- | --- |']
    for stage in timings['stages']:
        done = stage['seconds'] is not None
        seconds = f'{stage["seconds"]:.0f} s' if done else 'unfinished'
        per_iter = f'{stage["seconds"] / stage["iters"]:.2f}' if done else 'n/a'
        resumed = ' (resumed here)' if stage['resumed'] else ''
        lines.append(f'| {stage["index"]}/{stage["count"]} {stage["name"]} | {stage["first"]}-{stage["last"]} '
                     f'({stage["iters"]} in this log{resumed}) | {seconds} | {per_iter} |')
    lines += ['', f'From `{log_path}`; a stage\'s wall time includes its validations and checkpoints. '
              f'Whole training (basicsr): {timings["total"] or "not finished"}.']
    return lines


def compare(args):
    """Write the side-by-side images and ``report.md``; return (per-image rows, efficiency of both networks)."""
    opt, family = load_resolved_options(args.opt)
    device = torch.device(args.device)
    exp_dir = os.path.join('experiments', opt['name'])
    student_path = args.student or latest_checkpoint(os.path.join(exp_dir, 'models'))
    out_dir = args.out or os.path.join(exp_dir, 'comparison')
    os.makedirs(out_dir, exist_ok=True)
    val_opt = eval_data.first_val_dataset(opt) if not args.gt else {}
    (info, samples), *_ = family.evaluation_sets(opt, gt=args.gt, lq=args.lq or val_opt.get('dataroot_lq'))
    nets = {'teacher': build_teacher(opt, device)[0],
            'student': build_generator(opt['network_g'], student_path, args.student_key, '--student', 'network_g',
                                       device)[0]}
    crop_border = default_crop_border(opt, family)
    to_gt, to_teacher = MetricSuite(('psnr', 'niqe'), crop_border), MetricSuite(('psnr', ), crop_border)

    rows, first_inputs = [], None
    for sample in samples():
        first_inputs = first_inputs or sample['inputs']
        outputs = {'bicubic': sample['bicubic'].clamp(0, 1)}
        outputs.update({k: run_generator(net, family, sample['inputs'], device, args.pre_pad)
                        for k, net in nets.items()})
        row = {'image': sample['name']}
        for k in METHODS:
            metrics = to_gt.image_metrics(outputs[k], sample['gt'])
            row[f'psnr_{k}'] = metrics['psnr']
            if metrics['niqe'] is not None:
                row[f'niqe_{k}'] = metrics['niqe']
        for k in ('bicubic', 'student'):
            row[f'psnr_{k}_to_teacher'] = to_teacher.image_metrics(outputs[k], outputs['teacher'])['psnr']
        rgb = {k: to_uint8_rgb(v) for k, v in dict(outputs, GT=sample['gt']).items()}
        row['artefacts'] = artefact_report(rgb['student'], rgb['teacher'])
        # the reference for a cast: bicubic keeps the input's colours, so this is the teacher's own colour change
        row['artefacts']['bicubic_colour_offsets'] = colour_offsets(rgb['bicubic'], rgb['teacher'])
        if args.pre_pad and family.pre_pad_inputs:  # the frame the networks leave where they meet zero padding
            unpadded = {k: to_uint8_rgb(run_generator(net, family, sample['inputs'], device))
                        for k, net in nets.items()}
            row['artefacts']['frame_excess_unpadded'] = frame_excess(unpadded['student'], unpadded['teacher'])
        # the same colour offsets against the GT: how much of a cast against the teacher is the teacher's own
        row['colour_to_gt'] = {k: colour_offsets(rgb[k], rgb['GT']) for k in ('student', 'teacher')}
        images = {k: v[..., ::-1] for k, v in rgb.items()}
        panel = side_by_side([(f'{k} {row[f"psnr_{k}"]:.2f} dB', images[k]) for k in METHODS] + [('GT', images['GT'])])
        row['panel'] = write_image(os.path.join(out_dir, f'{sample["name"]}_bicubic_student_teacher_gt.png'), panel)
        rows.append(row)
    if not rows:
        raise ValueError(f'no validation images in {info["gt_dir"]}')
    cost = {k: efficiency(net, family, first_inputs, max(args.repeats, 1), device) for k, net in nets.items()}
    report = '\n'.join(report_lines(opt, args, student_path, info, rows, cost, device, crop_border)) + '\n'
    with open(os.path.join(out_dir, 'report.md'), 'w') as handle:
        handle.write(report)
    print(report)
    print(f'Report: {os.path.join(out_dir, "report.md")}\nImages: {out_dir}/')
    return rows, cost


def artefact_table(rows, pre_pad):
    """Markdown lines: the student's frame excess and colour offsets against the teacher, per image."""
    unpadded = all('frame_excess_unpadded' in row['artefacts'] for row in rows)
    lines = [f'| image | frame excess (outer 4 px) | {"without pre-padding | " if unpadded else ""}'
             'mean student − teacher: R | G | B | mean bicubic − teacher: R | G | B |',
             '| --- | --- | ' + ('--- | ' if unpadded else '') + '--- | --- | --- | --- | --- | --- |']
    for row in rows:
        found = row['artefacts']
        lines.append(f'| {row["image"]} | {found["frame_excess"]:+.1f}{"" if found["frame_ok"] else " (frame)"} | '
                     + (f'{found["frame_excess_unpadded"]:+.1f} | ' if unpadded else '')
                     + ' | '.join(f'{v:+.1f}' for v in found['colour_offsets'])
                     + ('' if found['colour_ok'] else ' (cast)') + ' | '
                     + ' | '.join(f'{v:+.1f}' for v in found['bicubic_colour_offsets']) + ' |')
    padding = (f'Both networks ran on the LR image mirrored outwards by {pre_pad} px (as the inference command runs '
               'them); "without pre-padding": on the bare LR image, where the border meets the networks\' zero '
               'padding. ' if unpadded else '')
    lines += ['', f'In grey levels (0-255). Frame excess: mean |student − teacher| on the outer 4 pixels minus '
              f'that of the interior (a dark or bright frame; within {FRAME_EXCESS_LIMIT:g} is none). Colour '
              f'offsets: a cast shows beyond ±{COLOUR_OFFSET_LIMIT:g} in a channel; bicubic upscaling keeps the '
              'input\'s colours, so its offsets are the colour change the teacher makes and a student has to learn. '
              + padding, '',
              '| image | mean student − GT: R | G | B | mean teacher − GT: R | G | B |',
              '| --- | --- | --- | --- | --- | --- | --- |']
    for row in rows:
        offsets = row['colour_to_gt']['student'] + row['colour_to_gt']['teacher']
        lines.append(f'| {row["image"]} | ' + ' | '.join(f'{v:+.1f}' for v in offsets) + ' |')
    return lines + ['', 'The same offsets against the GT: where the teacher\'s own colours differ from the GT\'s, '
                    'part of a cast against the teacher is the teacher\'s.']


def report_lines(opt, args, student_path, info, rows, cost, device, crop_border):
    """The markdown report: per-image table, network table, notes and the training stages."""
    threads = f' ({torch.get_num_threads()} threads)' if device.type == 'cpu' else ''
    lines = [f'# SDAKD comparison: {opt["name"]}', '',
             f'Teacher `{opt["path"]["pretrain_network_g_teacher"]}`, student `{student_path}` [{args.student_key}], '
             f'validation `{info["gt_dir"]}` ({len(rows)} images), device {device}{threads}.', '',
             '| image | PSNR to GT: bicubic | student | teacher | PSNR to teacher: bicubic | student '
             '| NIQE: bicubic | student | teacher |',
             '| --- | --- | --- | --- | --- | --- | --- | --- | --- |']
    keys = ['psnr_bicubic', 'psnr_student', 'psnr_teacher', 'psnr_bicubic_to_teacher', 'psnr_student_to_teacher',
            'niqe_bicubic', 'niqe_student', 'niqe_teacher']
    for row in rows:
        lines.append(f'| {row["image"]} | ' + ' | '.join(f'{row[k]:.2f}' if k in row else 'n/a (too small)'
                                                         for k in keys) + ' |')
    shape = '×'.join(str(s) for s in cost['teacher']['input_shape'])
    teacher_ms, student_ms = cost['teacher']['latency_ms'], cost['student']['latency_ms']
    lines += ['', f'| network | parameters | latency on {shape} (median of {args.repeats}) | speed-up |',
              '| --- | --- | --- | --- |',
              f'| teacher | {cost["teacher"]["params"]:,} | {teacher_ms:.1f} ms | 1.00× |',
              f'| student | {cost["student"]["params"]:,} | {student_ms:.1f} ms | {teacher_ms / student_ms:.2f}× |', '',
              f'PSNR in dB on RGB, border of {crop_border} pixels cropped; "to teacher" compares with the teacher\'s '
              'output instead of the GT (how close the student came to what it distils). Bicubic: MATLAB-style '
              'bicubic from the LR, as in the evaluator. NIQE (lower is better) on the SR output. Side-by-side '
              'images: ' + ', '.join(f'`{r["panel"]}`' for r in rows), '']
    lines += artefact_table(rows, args.pre_pad) + ['', '## Training stages', '']
    return lines + stage_table(args.log or latest_training_log(os.path.join('experiments', opt['name'])))


def main(argv=None):
    return compare(parse_args(argv))


if __name__ == '__main__':
    main()
