"""Export a trained SDAKD student: a plain BasicSR ``.pth`` (+ ``.yml`` card) and/or ONNX, checked on a photo.

The student generator alone is written (EMA weights by default); feature adapters and discriminators are never
part of it. The ONNX model is compared with PyTorch in onnxruntime on a real photo (scikit-image's astronaut
unless ``--check-image``), and the export fails if the largest difference exceeds ``--tolerance``.

Examples:
    python scripts/export_student.py --model experiments/sdakd_realesrgan_x4plus/models/net_g_400000.pth \\
        --opt options/sdakd_realesrgan_x4plus.yml --out exported/x4plus_w0.5 --onnx
    python scripts/export_student.py --model experiments/sdakd_gcfsr/models/net_g_latest.pth \\
        --opt options/sdakd_gcfsr.yml --out exported/gcfsr_w0.5 --onnx --param-key params
"""
import argparse
import json

import cv2
import numpy as np

from sdakd_basicsr.deploy.onnx_export import export_onnx, max_onnx_error, onnx_session
from sdakd_basicsr.deploy.student import export_pth, load_student, write_card

#: largest |ONNX - PyTorch| accepted, in the model's output units (fp32 reassociation of ~10^3 MACs per
#: output sits around 1e-5; far above that means a wrong graph, not rounding)
DEFAULT_TOLERANCE = 1e-3


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument('--model', required=True, help='experiments/<name>/models/net_g_<iter>.pth (or an export)')
    parser.add_argument('--opt', default=None, help='the training option file of that checkpoint')
    parser.add_argument('--param-key', default='params_ema', choices=['params_ema', 'params'],
                        help='EMA weights (default) or the raw generator weights')
    parser.add_argument('--out', required=True, help='output path without extension: writes OUT.pth + OUT.yml')
    parser.add_argument('--onnx', action='store_true', help='also write OUT.onnx (+ the same card)')
    parser.add_argument('--no-pth', action='store_true', help='skip the .pth export')
    parser.add_argument('--check-image', default=None, help='photo for the ONNX check (default: skimage astronaut)')
    parser.add_argument('--check-size', type=int, default=96,
                        help='side of the centre crop of the photo checked, for any-size students (default 96)')
    parser.add_argument('--factor', type=float, default=8,
                        help='factor condition of the check, for factor-conditioned students (default 8)')
    parser.add_argument('--tolerance', type=float, default=DEFAULT_TOLERANCE)
    return parser.parse_args(argv)


def check_photo(spec, path=None, size=96, factor=8):
    """Model inputs made from a real photo (the family's ``photo_inputs``); default: the astronaut's head."""
    if path:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f'--check-image {path!r} cannot be read')
    else:
        import skimage.data
        img = skimage.data.astronaut()[0:256, 96:352, ::-1]  # the astronaut's head, BGR
    return spec.family_adapter.photo_inputs(np.ascontiguousarray(img), spec, size, factor)


def main(argv=None):
    args = parse_args(argv)
    net, spec = load_student(args.model, args.opt, args.param_key)
    report = {'source': spec.source}
    if not args.no_pth:
        report['pth'] = args.out + '.pth'
        report['card'] = export_pth(net, spec, report['pth'])
    if args.onnx:
        onnx_path = args.out + '.onnx'
        module = export_onnx(net, spec, onnx_path)
        write_card(spec, onnx_path)  # the same card as the .pth's (same stem), or its only card
        inputs = check_photo(spec, args.check_image, args.check_size, args.factor)
        if len(module.input_keys) == 1:
            inputs = inputs[:1]
        error = max_onnx_error(onnx_session(onnx_path), module, *inputs)
        report.update(onnx=onnx_path, onnx_max_abs_error=error, tolerance=args.tolerance,
                      check_input=list(np.shape(inputs[0])))
        if not error <= args.tolerance:
            print(json.dumps(report, indent=1))
            raise SystemExit(f'ONNX output differs from PyTorch by {error:.3g} > --tolerance {args.tolerance}')
    print(json.dumps(report, indent=1))
    return report


if __name__ == '__main__':
    main()
