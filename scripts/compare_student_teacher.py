"""Compare a distilled student with its teacher on a paired validation set: images and a markdown table.

For every LR/GT pair it writes a side-by-side PNG (bicubic | student | teacher | GT) and reports PSNR to the
GT, PSNR of the student to the teacher's output, NIQE where the output is large enough, parameters, and the
median CPU/GPU latency of teacher and student on the first LR image.

    python scripts/compare_student_teacher.py -opt options/demo/sdakd_realesrgan_x4plus_demo.yml

Defaults come from the option file: the teacher checkpoint (path.pretrain_network_g_teacher), the student
(experiments/<name>/models/net_g_latest.pth, params_ema) and the validation set (datasets.val).
"""
import argparse
import os
import sys
from copy import deepcopy

import cv2
import numpy as np
import torch

import sdakd_basicsr  # noqa: F401  (registers archs; torchvision fix before basicsr)
from basicsr.archs import build_network
from basicsr.metrics import calculate_niqe, calculate_psnr
from basicsr.utils import img2tensor, tensor2img
from basicsr.utils.options import ordered_yaml

from sdakd_basicsr.families import build_family
from sdakd_basicsr.models.sdakd_model import resolve_network_options
from sdakd_basicsr.utils.checkpoint import load_checked
from sdakd_basicsr.utils.profiling import median_latency

NIQE_MIN_SIDE = 96  # basicsr's NIQE works on 96x96 blocks


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-opt', required=True, help='the SDAKD option file the student was trained with')
    parser.add_argument('--student', default=None, help='student checkpoint (default: the experiment\'s latest)')
    parser.add_argument('--student-key', default='params_ema', help='entry of the student checkpoint')
    parser.add_argument('--lq', default=None, help='LR folder (default: datasets.val.dataroot_lq)')
    parser.add_argument('--gt', default=None, help='GT folder (default: datasets.val.dataroot_gt)')
    parser.add_argument('--out', default=None, help='output folder (default: experiments/<name>/comparison)')
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


def read_rgb(path):
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f'cannot read image {path}')
    return img2tensor(img.astype(np.float32) / 255., bgr2rgb=True, float32=True).unsqueeze(0)


def labelled(img, text):
    img = img.copy()
    cv2.putText(img, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return img


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
        for k in ('bicubic', 'student', 'teacher'):
            row[f'psnr_{k}'] = calculate_psnr(imgs[k], gt, crop_border=scale)
            if min(gt.shape[:2]) >= NIQE_MIN_SIDE:
                row[f'niqe_{k}'] = float(calculate_niqe(imgs[k], crop_border=scale))
        row['psnr_student_to_teacher'] = calculate_psnr(imgs['student'], imgs['teacher'], crop_border=scale)
        panel = np.concatenate([labelled(imgs['bicubic'], 'bicubic'), labelled(imgs['student'], 'student'),
                                labelled(imgs['teacher'], 'teacher'), labelled(gt, 'GT')], axis=1)
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
             '| image | PSNR bicubic | PSNR student | PSNR teacher | PSNR student→teacher | NIQE student '
             '| NIQE teacher |',
             '| --- | --- | --- | --- | --- | --- | --- |']
    fmt = lambda row, key: f'{row[key]:.2f}' if key in row else 'n/a (image < 96 px)'  # noqa: E731
    for row in rows:
        lines.append(f'| {row["image"]} | {fmt(row, "psnr_bicubic")} | {fmt(row, "psnr_student")} | '
                     f'{fmt(row, "psnr_teacher")} | {fmt(row, "psnr_student_to_teacher")} | '
                     f'{fmt(row, "niqe_student")} | {fmt(row, "niqe_teacher")} |')
    lq_h, lq_w = first_lq.shape[-2:]
    lines += ['', f'| network | parameters | latency on 1×3×{lq_h}×{lq_w} (median of {args.repeats}) | speed-up |',
              '| --- | --- | --- | --- |',
              f'| teacher | {params["teacher"]:,} | {latency["teacher"] * 1e3:.1f} ms | 1.00× |',
              f'| student | {params["student"]:,} | {latency["student"] * 1e3:.1f} ms | '
              f'{latency["teacher"] / latency["student"]:.2f}× |', '',
              'PSNR in dB on RGB, border of `scale` pixels cropped; NIQE (lower is better) on the SR output. '
              'Side-by-side images: ' + ', '.join(f'`{r["panel"]}`' for r in rows)]
    report = '\n'.join(lines) + '\n'
    report_path = os.path.join(out_dir, 'report.md')
    with open(report_path, 'w') as handle:
        handle.write(report)
    print(report)
    print(f'Report: {report_path}\nImages: {out_dir}/')
    return rows, latency, params


if __name__ == '__main__':
    main()
