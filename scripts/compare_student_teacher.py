"""Compare a distilled student with its teacher on a paired validation set: images and a markdown table.

For every LR/GT pair it writes a side-by-side PNG (bicubic | student | teacher | GT, each full frame at the GT's
size under a caption) and reports PSNR to the GT, PSNR of the student and of bicubic to the teacher's output,
NIQE where the output is large enough, parameters, the median CPU/GPU latency of teacher and student on the
first LR image, and, from the experiment's training log, the iterations and wall time of every SDAKD stage.

    python scripts/compare_student_teacher.py -opt options/demo/sdakd_realesrgan_x4plus_demo.yml

Defaults come from the option file: the teacher checkpoint (path.pretrain_network_g_teacher), the student
(experiments/<name>/models/net_g_latest.pth, params_ema) and the validation set (datasets.val).
"""
import argparse
import datetime
import glob
import os
import re
import sys
from copy import deepcopy

import cv2
import numpy as np
import torch

import sdakd_basicsr  # noqa: F401  (registers archs; torchvision fix before basicsr)
from basicsr.archs import build_network
from basicsr.metrics import calculate_niqe, calculate_psnr
from basicsr.utils import tensor2img
from basicsr.utils.options import ordered_yaml

from sdakd_basicsr.families import build_family
from sdakd_basicsr.models.sdakd_model import resolve_network_options
from sdakd_basicsr.metrics.eval_data import read_rgb
from sdakd_basicsr.utils.checkpoint import load_checked
from sdakd_basicsr.utils.profiling import median_latency

NIQE_MIN_SIDE = 96  # basicsr's NIQE works on 96x96 blocks
METHODS = ('bicubic', 'student', 'teacher')
CAPTION_HEIGHT = 22

# lines of basicsr's training log (logger format '%(asctime)s %(levelname)s: %(message)s')
_LOG_TIME = r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO: '
_STAGE_LINE = re.compile(_LOG_TIME + r"SDAKD stage (\d+)/(\d+) (starts|continues \(resumed\)) at iter (\d+): "
                         r"'([^']*)' \(iters (\d+)-(\d+)")
_END_LINE = re.compile(_LOG_TIME + r'End of training\. Time consumed: (\S+)')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-opt', required=True, help='the SDAKD option file the student was trained with')
    parser.add_argument('--student', default=None, help='student checkpoint (default: the experiment\'s latest)')
    parser.add_argument('--student-key', default='params_ema', help='entry of the student checkpoint')
    parser.add_argument('--lq', default=None, help='LR folder (default: datasets.val.dataroot_lq)')
    parser.add_argument('--gt', default=None, help='GT folder (default: datasets.val.dataroot_gt)')
    parser.add_argument('--out', default=None, help='output folder (default: experiments/<name>/comparison)')
    parser.add_argument('--log', default=None, help='training log (default: the experiment\'s newest train_*.log)')
    parser.add_argument('--repeats', type=int, default=5, help='timed runs per network (median reported)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    return parser.parse_args(argv)


def load_options(path):
    import yaml
    with open(path) as handle:
        opt = yaml.load(handle, Loader=ordered_yaml()[0])
    family = build_family(opt.get('sdakd', {}).get('family', 'realesrgan'))
    resolve_network_options(opt, family)
    if tuple(family.input_keys) != ('lq', ):
        sys.exit(f'{family.name}: this comparison feeds only LR images; use the family\'s own evaluation script')
    return opt, family


def build_and_load(net_opt, path, key, path_option, net_option, device):
    net = build_network(deepcopy(net_opt))
    load_checked(net, path, key, True, path_option, net_option)
    return net.eval().to(device)


def captioned(img, text):
    """``img`` whole, under a white strip that names it (nothing drawn over the picture itself)."""
    strip = np.full((CAPTION_HEIGHT, img.shape[1], 3), 255, dtype=np.uint8)
    cv2.putText(strip, text, (4, CAPTION_HEIGHT - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([strip, img], axis=0)


def side_by_side(panels, gap=4):
    """Captioned panels of one size left to right, separated by white gaps."""
    shapes = {img.shape for _, img in panels}
    if len(shapes) != 1:
        raise ValueError(f'panels differ in size: {sorted(shapes)}')
    parts = []
    for text, img in panels:
        if parts:
            parts.append(np.full((img.shape[0] + CAPTION_HEIGHT, gap, 3), 255, dtype=np.uint8))
        parts.append(captioned(img, text))
    return np.concatenate(parts, axis=1)


def _log_time(text):
    return datetime.datetime.strptime(text, '%Y-%m-%d %H:%M:%S,%f')


def stage_timings(log_text):
    """Iterations and wall time of every SDAKD stage, read from one basicsr training log.

    A stage's wall time runs from the log line of its first iteration to that of the next stage (or to "End of
    training"), so it includes the validations and checkpoints in between.

    Returns:
        dict: ``stages`` (list of dicts: index, count, name, first, last, iters (run in this log), seconds,
        resumed) and ``total`` (basicsr's "Time consumed" text or None).
    """
    stages, end, total = [], None, None
    for line in log_text.splitlines():
        match = _STAGE_LINE.match(line)
        if match:
            stamp, index, count, verb, first_run, name, first, last = match.groups()
            stages.append(dict(index=int(index), count=int(count), name=name, first=int(first), last=int(last),
                               start_iter=int(first_run), start=_log_time(stamp), resumed=verb != 'starts'))
            continue
        match = _END_LINE.match(line)
        if match:
            end, total = _log_time(match.group(1)), match.group(2)
    for stage, following in zip(stages, stages[1:] + [None]):
        stop = following['start'] if following else end
        stage['iters'] = stage['last'] - stage['start_iter'] + 1
        stage['seconds'] = (stop - stage['start']).total_seconds() if stop else None
    return {'stages': stages, 'total': total}


def latest_training_log(exp_dir):
    """The newest ``train_*.log`` of an experiment folder, or None."""
    logs = sorted(glob.glob(os.path.join(exp_dir, 'train_*.log')), key=os.path.getmtime)
    return logs[-1] if logs else None


def stage_table(log_path):
    """Markdown lines for :func:`stage_timings` of ``log_path`` (a note when there is no log)."""
    if log_path is None:
        return ['No training log found in the experiment folder: stage iterations and times unknown.']
    timings = stage_timings(open(log_path, encoding='utf-8').read())
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


def main(argv=None):
    args = parse_args(argv)
    opt, family = load_options(args.opt)
    device = torch.device(args.device)
    exp_dir = os.path.join('experiments', opt['name'])
    student_path = args.student or os.path.join(exp_dir, 'models', 'net_g_latest.pth')
    out_dir = args.out or os.path.join(exp_dir, 'comparison')
    val_opt = opt['datasets']['val']
    lq_dir, gt_dir = args.lq or val_opt['dataroot_lq'], args.gt or val_opt['dataroot_gt']
    scale = opt['scale']
    os.makedirs(out_dir, exist_ok=True)

    path_opt = opt['path']
    teacher = build_and_load(opt['network_g_teacher'], path_opt['pretrain_network_g_teacher'],
                             path_opt.get('param_key_g_teacher', 'params_ema'), 'path.pretrain_network_g_teacher',
                             'network_g_teacher', device)
    student = build_and_load(opt['network_g'], student_path, args.student_key, '--student', 'network_g', device)

    rows, names = [], sorted(os.listdir(gt_dir))
    for name in names:
        lq = read_rgb(os.path.join(lq_dir, name)).to(device)
        gt = tensor2img(read_rgb(os.path.join(gt_dir, name)))
        with torch.inference_mode():
            outs = {'student': family.generate(student, {'lq': lq}), 'teacher': family.generate(teacher, {'lq': lq})}
        imgs = {k: tensor2img(family.to_unit_range(v.float().cpu()).clamp(0, 1)) for k, v in outs.items()}
        lq_img = tensor2img(lq.cpu())
        imgs['bicubic'] = cv2.resize(lq_img, (gt.shape[1], gt.shape[0]), interpolation=cv2.INTER_CUBIC)
        row = {'image': name}
        for k in METHODS:
            row[f'psnr_{k}'] = calculate_psnr(imgs[k], gt, crop_border=scale)
            if min(gt.shape[:2]) >= NIQE_MIN_SIDE:
                row[f'niqe_{k}'] = float(calculate_niqe(imgs[k], crop_border=scale))
        for k in ('bicubic', 'student'):
            row[f'psnr_{k}_to_teacher'] = calculate_psnr(imgs[k], imgs['teacher'], crop_border=scale)
        panel = side_by_side([(f'bicubic {row["psnr_bicubic"]:.2f} dB', imgs['bicubic']),
                              (f'student {row["psnr_student"]:.2f} dB', imgs['student']),
                              (f'teacher {row["psnr_teacher"]:.2f} dB', imgs['teacher']), ('GT', gt)])
        panel_path = os.path.join(out_dir, f'{os.path.splitext(name)[0]}_bicubic_student_teacher_gt.png')
        cv2.imwrite(panel_path, panel)
        row['panel'] = panel_path
        rows.append(row)

    first_lq = read_rgb(os.path.join(lq_dir, names[0])).to(device)
    with torch.inference_mode():
        latency = {k: median_latency(lambda n=n: family.generate(n, {'lq': first_lq}), args.repeats, device=device)
                   for k, n in (('teacher', teacher), ('student', student))}
    params = {k: sum(p.numel() for p in n.parameters()) for k, n in (('teacher', teacher), ('student', student))}

    lines = [f'# SDAKD comparison: {opt["name"]}', '',
             f'Teacher `{path_opt["pretrain_network_g_teacher"]}`, student `{student_path}` [{args.student_key}], '
             f'validation `{gt_dir}` ({len(rows)} images), device {device}'
             + (f' ({torch.get_num_threads()} threads)' if device.type == 'cpu' else '') + '.', '',
             '| image | PSNR to GT: bicubic | student | teacher | PSNR to teacher: bicubic | student '
             '| NIQE: bicubic | student | teacher |',
             '| --- | --- | --- | --- | --- | --- | --- | --- | --- |']
    fmt = lambda row, key: f'{row[key]:.2f}' if key in row else 'n/a (< 96 px)'  # noqa: E731
    keys = ['psnr_bicubic', 'psnr_student', 'psnr_teacher', 'psnr_bicubic_to_teacher', 'psnr_student_to_teacher',
            'niqe_bicubic', 'niqe_student', 'niqe_teacher']
    for row in rows:
        lines.append(f'| {row["image"]} | ' + ' | '.join(fmt(row, key) for key in keys) + ' |')
    lq_h, lq_w = first_lq.shape[-2:]
    lines += ['', f'| network | parameters | latency on 1×3×{lq_h}×{lq_w} (median of {args.repeats}) | speed-up |',
              '| --- | --- | --- | --- |',
              f'| teacher | {params["teacher"]:,} | {latency["teacher"] * 1e3:.1f} ms | 1.00× |',
              f'| student | {params["student"]:,} | {latency["student"] * 1e3:.1f} ms | '
              f'{latency["teacher"] / latency["student"]:.2f}× |', '',
              'PSNR in dB on RGB, border of `scale` pixels cropped; "to teacher" compares with the teacher\'s '
              'output instead of the GT (how close the student came to what it distils). Bicubic: OpenCV '
              'INTER_CUBIC from the LR. NIQE (lower is better) on the SR output. Side-by-side images: '
              + ', '.join(f'`{r["panel"]}`' for r in rows), '', '## Training stages', '']
    lines += stage_table(args.log or latest_training_log(exp_dir))
    report = '\n'.join(lines) + '\n'
    report_path = os.path.join(out_dir, 'report.md')
    with open(report_path, 'w') as handle:
        handle.write(report)
    print(report)
    print(f'Report: {report_path}\nImages: {out_dir}/')
    return rows, latency, params


if __name__ == '__main__':
    main()
