"""Which weight files are on this machine, and are they intact: ``python -m sdakd_basicsr.check_weights``.

:data:`WEIGHTS` lists every weight file an option file, a metric or the inference command can read, with its
public address, its SHA-256 and its licence (the table of ``docs/weights.md``). Nothing is downloaded: each file
is looked for where the project reads it and hashed. Where only a prefix of the SHA-256 is established (the
prefix torch.hub checks, embedded in the file name), the prefix is checked, and the report says so.

Example:
    python -m sdakd_basicsr.check_weights                  # all files, at their default places
    python -m sdakd_basicsr.check_weights --models-dir /data/weights --hub-dir ~/.cache/torch/hub/checkpoints
"""
import argparse
import hashlib
import os
import sys
from dataclasses import dataclass

REALESRGAN = 'https://github.com/xinntao/Real-ESRGAN/releases/download'
TORCHVISION = 'https://download.pytorch.org/models'
FACEXLIB = 'https://github.com/xinntao/facexlib/releases/download'
BSD_REALESRGAN = 'BSD-3-Clause (Real-ESRGAN)'
BSD_TORCHVISION = 'BSD-3-Clause (torchvision; trained on ImageNet)'

#: folder kinds -> default folder (``models`` and ``faces`` relative to the working directory)
DEFAULT_DIRS = {'models': os.path.join('experiments', 'pretrained_models'),
                'faces': os.path.join('experiments', 'pretrained_models', 'facexlib'),
                'hub': None}  # torch.hub's checkpoint folder, resolved at run time


@dataclass(frozen=True)
class Weight:
    """One weight file.

    Attributes:
        name (str): File name.
        folder (str): Where the project reads it: ``models``, ``hub`` (torch.hub's checkpoints) or ``faces``.
        url (str | None): Public address; None for a file made locally.
        sha256 (str | None): Full SHA-256, or a prefix (fewer than 64 hex digits); None where none is established.
        licence (str): Licence of the weights.
        used_by (str): What reads it.
    """
    name: str
    folder: str
    url: str
    sha256: str
    licence: str
    used_by: str

    @property
    def full_hash(self):
        return self.sha256 is not None and len(self.sha256) == 64


WEIGHTS = (
    Weight('RealESRGAN_x4plus.pth', 'models', f'{REALESRGAN}/v0.1.0/RealESRGAN_x4plus.pth',
           '4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1', BSD_REALESRGAN,
           'teacher G of every Real-ESRGAN option file (path.pretrain_network_g_teacher)'),
    Weight('RealESRGAN_x4plus_netD.pth', 'models', f'{REALESRGAN}/v0.2.2.3/RealESRGAN_x4plus_netD.pth', None,
           BSD_REALESRGAN, 'teacher D of the teacher_d baseline (path.pretrain_network_d_teacher)'),
    Weight('RealESRGAN_x4plus_from_ncnn.pth', 'models', None, None, BSD_REALESRGAN,
           'the demo teacher: written by scripts/convert_realesrgan_ncnn.py from the ncnn package'),
    Weight('realesr-general-x4v3.pth', 'models', f'{REALESRGAN}/v0.2.5.0/realesr-general-x4v3.pth',
           '8dc7edb9ac80ccdc30c3a5dca6616509367f05fbc184ad95b731f05bece96292', BSD_REALESRGAN,
           'SRVGG teacher (sdakd.family: srvgg, num_conv 32), optional'),
    Weight('realesr-animevideov3.pth', 'models', f'{REALESRGAN}/v0.2.5.0/realesr-animevideov3.pth',
           'b8a8376811077954d82ca3fcf476f1ac3da3e8a68a4f4d71363008000a18b75d', BSD_REALESRGAN,
           'SRVGG teacher (sdakd.family: srvgg, num_conv 16), optional'),
    Weight('GCFSR_512_teacher.pth', 'models', None, None, 'yours (trained with options/teachers/train_gcfsr_512.yml)',
           'teacher G of the GCFSR option files'),
    Weight('vgg19-dcbb9e9d.pth', 'models', f'{TORCHVISION}/vgg19-dcbb9e9d.pth',
           'dcbb9e9dad569fff7a846263a77324fc34978fea2bfb039c012d710e1776ae44', BSD_TORCHVISION,
           'perceptual loss of the Real-ESRGAN option files (train.perceptual_opt.vgg_weights_path)'),
    Weight('vgg16-397923af.pth', 'models', f'{TORCHVISION}/vgg16-397923af.pth',
           '397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0', BSD_TORCHVISION,
           'perceptual loss of the GCFSR option files'),
    Weight('pt_inception-2015-12-05-6726825d.pth', 'hub',
           'https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth',
           '6726825d', 'Apache-2.0 (pytorch-fid)', 'FID (scripts/evaluate.py)'),
    Weight('alexnet-owt-7be5be79.pth', 'hub', f'{TORCHVISION}/alexnet-owt-7be5be79.pth', '7be5be79', BSD_TORCHVISION,
           "LPIPS backbone (the lpips package ships its own linear layers)"),
    Weight('detection_Resnet50_Final.pth', 'faces', f'{FACEXLIB}/v0.1.0/detection_Resnet50_Final.pth',
           '6d1de9c2944f2ccddca5f5e010ea5ae64a39845a86311af6fdf30841b0a5a16d', 'MIT (facexlib)',
           'face detector of the inference command (GCFSR students on photos)'),
    Weight('parsing_parsenet.pth', 'faces', f'{FACEXLIB}/v0.2.2/parsing_parsenet.pth',
           '3d558d8d0e42c20224f13cf5a29c79eba2d59913419f945545d8cf7b72920de2', 'MIT (facexlib)',
           "face parser facexlib's helper loads with the detector"),
)


def sha256_of(path, chunk=1 << 22):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def hub_dir():
    import torch
    return os.path.join(torch.hub.get_dir(), 'checkpoints')


def check(weight, folders):
    """``(status, path)`` of one weight file: ``missing``, ``ok`` (full hash), ``ok (prefix)``, ``present (no
    hash established)`` or ``CORRUPT (sha256 <digest>)``."""
    path = os.path.join(folders[weight.folder], weight.name)
    if not os.path.isfile(path):
        return 'missing', path
    if weight.sha256 is None:
        return 'present (no hash established)', path
    digest = sha256_of(path)
    if not digest.startswith(weight.sha256):
        return f'CORRUPT (sha256 {digest})', path
    return ('ok' if weight.full_hash else 'ok (prefix)'), path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--models-dir', default=DEFAULT_DIRS['models'], help='teachers, VGG (option files)')
    parser.add_argument('--hub-dir', default=None, help="torch.hub checkpoints (FID, LPIPS); default: torch's")
    parser.add_argument('--face-dir', default=DEFAULT_DIRS['faces'], help='facexlib weights (--face-model-dir)')
    args = parser.parse_args(argv)
    folders = {'models': args.models_dir, 'hub': args.hub_dir or hub_dir(), 'faces': args.face_dir}
    corrupt = 0
    print('| file | status | path |\n| --- | --- | --- |')
    for weight in WEIGHTS:
        status, path = check(weight, folders)
        corrupt += status.startswith('CORRUPT')
        print(f'| {weight.name} | {status} | {path} |')
    if corrupt:
        print(f'{corrupt} file(s) do not match their published SHA-256: download them again (docs/weights.md).',
              file=sys.stderr)
    return 1 if corrupt else 0


if __name__ == '__main__':
    sys.exit(main())
