"""Evaluate a trained student (and its teacher, and bicubic) with field-standard metrics; JSON + CSV out.

    python scripts/evaluate.py experiments/<name>                       # an experiment folder of basicsr.train
    python scripts/evaluate.py -opt options/x.yml --checkpoint net_g.pth  # a checkpoint and its option file

Real-ESRGAN x4: the validation GT (``datasets.val*.dataroot_gt`` or ``--gt``) is degraded once with the option
file's Real-ESRGAN degradation from ``--degrade-seed`` and saved under ``--cache-dir``; every method evaluated
with the same settings reads those same files (``--lq`` uses given LR images instead). GCFSR: one result per
factor (x8, x16, x32, and x64 where the LR side keeps at least 8 px). Rows: ``student``, ``teacher``
(``path.pretrain_network_g_teacher``) and ``bicubic``. FID reference statistics are cached per data set.

Writes ``<experiment>/evaluation/results.json`` and ``results.csv`` (``--tag`` renames them) and the output
images under ``<experiment>/evaluation/images/``. A metric whose weight file is missing is reported as
unavailable (``metrics_status`` in the JSON, a line on the console); the other metrics are still computed.
"""
import argparse
import csv
import glob
import json
import os
import re
import statistics
import time
from copy import deepcopy

import torch
from tqdm import tqdm

import sdakd_basicsr  # noqa: F401  (registers archs; torchvision fix before basicsr)
from basicsr.archs import build_network

from sdakd_basicsr.families import DEFAULT_FAMILY
from sdakd_basicsr.metrics import eval_data
from sdakd_basicsr.metrics.fid import FIDReference
from sdakd_basicsr.metrics.suite import ALL_METRICS, MetricSuite
from sdakd_basicsr.utils.checkpoint import load_checked
from sdakd_basicsr.utils.options import load_options, resolve_options
from sdakd_basicsr.utils.profiling import count_macs, count_params, environment, load_average, median_latency

ROWS = ('student', 'teacher', 'bicubic')
IMAGE_METRICS = ('psnr', 'ssim', 'lpips', 'niqe')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('experiment', nargs='?', help='experiment folder written by python -m basicsr.train')
    parser.add_argument('-opt', help='option file (instead of, or overriding, the one in the experiment folder)')
    parser.add_argument('--checkpoint', help='student generator (default: <experiment>/models/net_g_latest.pth)')
    parser.add_argument('--param-key', default='params_ema', help='checkpoint entry (default: %(default)s)')
    parser.add_argument('--rows', nargs='+', default=list(ROWS), choices=ROWS, help='rows (default: all)')
    parser.add_argument('--metrics', nargs='+', default=list(ALL_METRICS), choices=ALL_METRICS)
    parser.add_argument('--gt', help='Real-ESRGAN: GT folder (default: the option file\'s validation GT)')
    parser.add_argument('--lq', help='Real-ESRGAN: use these LR images instead of degrading the GT')
    parser.add_argument('--degrade-seed', type=int, default=0, help='seed of the one-off degradation (default 0)')
    parser.add_argument('--factors', nargs='+', type=int, default=None,
                        help='factors of factor-conditioned families (default: the family\'s, those the size allows)')
    parser.add_argument('--cache-dir', default=os.path.join('experiments', 'eval_cache'),
                        help='degraded validation sets and FID statistics (default: %(default)s)')
    parser.add_argument('--inception-weights', help='pytorch-fid weights (default: $TORCH_HOME/hub/checkpoints/'
                        'pt_inception-2015-12-05-6726825d.pth)')
    parser.add_argument('--fid-dims', type=int, default=2048, choices=(64, 192, 768, 2048),
                        help='Inception features for FID: 2048 is the standard FID; others are quick checks only')
    parser.add_argument('--lpips-net', default='alex', choices=('alex', 'vgg', 'squeeze'))
    parser.add_argument('--lpips-backbone', help='torchvision backbone weights for LPIPS (default: '
                        '$TORCH_HOME/hub/checkpoints/alexnet-owt-7be5be79.pth for alex)')
    parser.add_argument('--crop-border', type=int, help='border cropped for PSNR/SSIM/NIQE (default: the option '
                        'file\'s val.metrics.psnr.crop_border, else the scale)')
    parser.add_argument('--test-y-channel', action='store_true', help='PSNR/SSIM on Y instead of RGB')
    parser.add_argument('--latency-repeats', type=int, default=5, help='timed runs per network, 0 = no timing')
    parser.add_argument('--out', help='output folder (default: <experiment>/evaluation)')
    parser.add_argument('--tag', default='results', help='output file stem (default: %(default)s)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    args = parser.parse_args(argv)
    if not args.experiment and not args.opt:
        parser.error('give an experiment folder or -opt (with --checkpoint)')
    return args


def experiment_option_file(exp_dir):
    """The option file basicsr.train copied into the experiment folder (the one whose ``name`` is the folder's)."""
    candidates = sorted(glob.glob(os.path.join(exp_dir, '*.yml')))
    for path in candidates:
        if load_options(path).get('name') == os.path.basename(os.path.normpath(exp_dir)):
            return path
    if len(candidates) == 1:
        return candidates[0]
    raise FileNotFoundError(f'{exp_dir}: no option file (*.yml) with name {os.path.basename(exp_dir)!r}; '
                            'pass -opt')


def latest_checkpoint(models_dir):
    """``net_g_latest.pth`` or the highest ``net_g_<iter>.pth`` in ``models_dir``."""
    latest = os.path.join(models_dir, 'net_g_latest.pth')
    if os.path.isfile(latest):
        return latest
    numbered = [(int(m.group(1)), p) for p in glob.glob(os.path.join(models_dir, 'net_g_*.pth'))
                if (m := re.search(r'net_g_(\d+)\.pth$', p))]
    if not numbered:
        raise FileNotFoundError(f'no student checkpoint (net_g_latest.pth or net_g_<iter>.pth) in {models_dir}; '
                                'train first or pass --checkpoint')
    return max(numbered)[1]


def build_generator(net_opt, path, key, path_option, net_option, device):
    """Generator ``net_opt`` with the weights of checkpoint ``path`` (entry ``key``), in eval mode on ``device``.

    Returns ``(net, the checkpoint entry used)``; errors name ``path_option`` / ``net_option``.
    """
    net = build_network(deepcopy(net_opt))
    used_key = load_checked(net, path, key, True, path_option, net_option)
    return net.eval().to(device), used_key


def build_teacher(opt, device):
    """The teacher generator of resolved options ``opt`` (``path.pretrain_network_g_teacher``) and its entry."""
    path_opt = opt['path']
    return build_generator(opt['network_g_teacher'], path_opt.get('pretrain_network_g_teacher'),
                           path_opt.get('param_key_g_teacher', 'params_ema'), 'path.pretrain_network_g_teacher',
                           'network_g_teacher', device)


def default_crop_border(opt, family):
    """The option file's ``val.metrics.psnr.crop_border``, else the family's rule (``TeacherFamily.crop_border``)."""
    psnr_opt = (opt.get('val') or {}).get('metrics', {}).get('psnr') or {}
    if 'crop_border' in psnr_opt:
        return int(psnr_opt['crop_border'])
    return family.crop_border(opt)


def run_generator(net, family, inputs, device, pre_pad=0):
    """Output of generator ``net`` on a sample's ``inputs`` as a (1, 3, H, W) CPU tensor in [0, 1].

    ``pre_pad``: LR pixels mirrored outwards before the generator and cropped from its output, as the inference
    command does (families whose generators take any input size; others ignore it).
    """
    from sdakd_basicsr.deploy.tiling import reflect_pre_padded
    inputs = {k: v.to(device) for k, v in inputs.items()}
    with torch.inference_mode():
        if pre_pad and family.pre_pad_inputs:
            output = reflect_pre_padded(lambda lq: family.generate(net, dict(inputs, lq=lq)), inputs['lq'], pre_pad)
        else:
            output = family.generate(net, inputs)
        return family.to_unit_range(output.float().cpu()).clamp(0, 1)


def mean_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def efficiency(net, family, inputs, repeats, device):
    """Parameters, MACs and median latency of one forward pass on ``inputs``."""
    inputs = {k: v.to(device) for k, v in inputs.items()}
    result = dict(params=count_params(net), macs=count_macs(family.generate, net, inputs),
                  input_shape=list(inputs['lq'].shape))
    if repeats > 0:
        with torch.inference_mode():
            seconds = median_latency(lambda: family.generate(net, inputs), repeats, device=device)
        result['latency_ms'] = seconds * 1e3
    return result


def run_info(opt, exp_dir):
    """What was trained: width, seed, budget and stages, from the options."""
    train_opt = opt.get('train') or {}
    stages = [dict(name=s.get('name'), iters=s.get('iters'), losses=list(s.get('losses', [])),
                   train_d=s.get('train_d')) for s in train_opt.get('stages') or []]
    sdakd_opt = opt.get('sdakd') or {}
    return dict(experiment=os.path.basename(os.path.normpath(exp_dir)), name=opt.get('name'),
                family=sdakd_opt.get('family', DEFAULT_FAMILY), width=sdakd_opt.get('width'),
                d_width=sdakd_opt.get('d_width') or sdakd_opt.get('width'), seed=opt.get('manual_seed'),
                total_iter=train_opt.get('total_iter'), stages=stages,
                batch_size=(opt.get('datasets', {}).get('train') or {}).get('batch_size_per_gpu'),
                adapter=(train_opt.get('distill_opt') or {}).get('adapter'))


def evaluate(args):
    device = torch.device(args.device)
    exp_dir = args.experiment
    opt_path = args.opt or experiment_option_file(exp_dir)
    opt, family = resolve_options(load_options(opt_path))
    exp_dir = exp_dir or os.path.join('experiments', opt['name'])
    out_dir = args.out or os.path.join(exp_dir, 'evaluation')
    os.makedirs(out_dir, exist_ok=True)

    nets, checkpoints = {}, {}
    if 'student' in args.rows:
        path = args.checkpoint or latest_checkpoint(os.path.join(exp_dir, 'models'))
        nets['student'], key = build_generator(opt['network_g'], path, args.param_key, '--checkpoint', 'network_g',
                                               device)
        checkpoints['student'] = dict(path=path, param_key=key)
    if 'teacher' in args.rows:
        nets['teacher'], key = build_teacher(opt, device)
        checkpoints['teacher'] = dict(path=opt['path'].get('pretrain_network_g_teacher'), param_key=key)

    crop_border = args.crop_border if args.crop_border is not None else default_crop_border(opt, family)
    suite = MetricSuite(args.metrics, crop_border, args.test_y_channel, args.inception_weights, args.lpips_net,
                        args.lpips_backbone, str(device), args.fid_dims)
    for metric, status in suite.status.items():
        if status != 'ok':
            print(f'[evaluate] {metric}: {status}')

    started, load_before = time.time(), load_average()
    sets = family.evaluation_sets(opt, gt=args.gt, lq=args.lq, cache_dir=args.cache_dir,
                                  degrade_seed=args.degrade_seed, factors=args.factors)
    total = sum(len(info['gt_files']) for info, _ in sets) * len(args.rows)
    rows, per_image, first_inputs = [], [], None
    with tqdm(total=total, desc=f'evaluate {os.path.basename(os.path.normpath(exp_dir))}', unit='img') as bar:
        for info, samples in sets:
            outputs = {row: [] for row in args.rows}
            values = {row: [] for row in args.rows}
            for sample in samples():
                first_inputs = first_inputs or sample['inputs']
                for row in args.rows:
                    output = sample['bicubic'].clamp(0, 1) if row == 'bicubic' else run_generator(
                        nets[row], family, sample['inputs'], device)
                    image_dir = os.path.join(out_dir, 'images', f'{info["name"]}_x{info["factor"]}', row)
                    os.makedirs(image_dir, exist_ok=True)
                    image_path = os.path.join(image_dir, f'{sample["name"]}.png')
                    eval_data.write_rgb(image_path, output)
                    outputs[row].append(image_path)
                    metrics = suite.image_metrics(output, sample['gt'])
                    values[row].append(metrics)
                    per_image.append(dict(row=row, set=info['name'], factor=info['factor'], image=sample['name'],
                                          **metrics))
                    bar.update(1)
            reference = FIDReference(os.path.join(args.cache_dir, 'fid_stats'), info['name'], info['gt_files'],
                                     args.fid_dims)
            for row in args.rows:
                summary = dict(row=row, set=info['name'], factor=info['factor'], n_images=len(values[row]))
                for metric in IMAGE_METRICS:
                    if metric in args.metrics:
                        summary[metric] = mean_or_none([v[metric] for v in values[row]])
                if 'niqe' in args.metrics:
                    summary['niqe_n_images'] = sum(v['niqe'] is not None for v in values[row])
                if 'fid' in args.metrics:
                    summary['fid'] = suite.fid(outputs[row], reference)
                rows.append(summary)

    efficiency_rows = {row: efficiency(net, family, first_inputs, args.latency_repeats, device)
                       for row, net in nets.items()}
    result = dict(run_info(opt, exp_dir), option_file=opt_path, checkpoints=checkpoints,
                  metrics_status=dict(suite.status), crop_border=crop_border, test_y_channel=args.test_y_channel,
                  lpips_net=args.lpips_net if 'lpips' in args.metrics else None,
                  fid_dims=args.fid_dims if 'fid' in args.metrics else None,
                  sets=[{k: v for k, v in info.items() if k != 'gt_files'} | {'n_images': len(info['gt_files'])}
                        for info, _ in sets],
                  rows=rows, efficiency=efficiency_rows, per_image=per_image,
                  environment=dict(environment(device), load_average_before=load_before,
                                   load_average_after=load_average()),
                  evaluation_seconds=round(time.time() - started, 1))
    json_path = os.path.join(out_dir, f'{args.tag}.json')
    with open(json_path, 'w') as handle:
        json.dump(result, handle, indent=2)
    csv_path = os.path.join(out_dir, f'{args.tag}.csv')
    columns = ['row', 'set', 'factor', 'n_images'] + [m for m in ALL_METRICS if m in args.metrics]
    with open(csv_path, 'w', newline='') as handle:
        writer = csv.DictWriter(handle, columns + ['params', 'macs', 'latency_ms'], extrasaction='ignore')
        writer.writeheader()
        for row in rows:
            writer.writerow(dict(row, **{k: efficiency_rows.get(row['row'], {}).get(k)
                                         for k in ('params', 'macs', 'latency_ms')}))
    for row in rows:
        shown = ', '.join(f'{m} {row[m]:.4f}' if row.get(m) is not None else f'{m} n/a'
                          for m in ALL_METRICS if m in args.metrics)
        print(f'[evaluate] {row["row"]:8s} {row["set"]} x{row["factor"]} ({row["n_images"]} images): {shown}')
    print(f'[evaluate] wrote {json_path} and {csv_path}')
    return result


def main(argv=None):
    return evaluate(parse_args(argv))


if __name__ == '__main__':
    main()
