"""Which torch/torchvision an install keeps: the supported range, and the decision ``scripts/install.sh`` takes.

An installed torch is usually the one built for the machine's CUDA driver; replacing it with the tested pin would
swap that build for PyPI's default one. So an installed pair inside :data:`TORCH_RANGE` is kept, and the pinned
pair of ``requirements.txt`` (the tested set, which CI installs into a fresh environment) is installed only where
torch is absent, or where asked for with ``SDAKD_TORCH=pinned``.

The lower bound is the oldest torch with every API the package calls (the ``torch.export``-based ONNX exporter,
``torch.onnx.export(dynamo=True, external_data=...)``, arrived in 2.6); the upper bound keeps out an untested
major version. torchvision must be the release built for the installed torch (minor = torch minor + 15 for
torch 2.x), otherwise pip would replace torch to satisfy it.

This file uses the standard library only: the install script runs it as ``python sdakd_basicsr/torch_support.py``
before anything else is installed (importing the package would need torch and basicsr).
"""
import argparse
import os
import re
import sys
from importlib import metadata

#: supported torch versions: ``TORCH_RANGE[0] <= version < TORCH_RANGE[1]``
TORCH_RANGE = ('2.6', '3')
#: the same range for pip (setup.py's install_requires)
TORCH_REQUIREMENT = f'torch>={TORCH_RANGE[0]},<{TORCH_RANGE[1]}'
TORCHVISION_REQUIREMENT = 'torchvision>=0.21,<1'
#: names of the pinned pair in requirements.txt
PAIR = ('torch', 'torchvision')


class UnsupportedTorch(RuntimeError):
    """An installed torch/torchvision that the package cannot use; the message says what to do."""


def release(version):
    """``'2.14.1+cu121'`` -> ``(2, 14, 1)``: the numeric release, without local build tag or pre-release."""
    match = re.match(r'\s*(\d+(?:\.\d+)*)', version)
    if not match:
        raise ValueError(f'not a version: {version!r}')
    return tuple(int(part) for part in match.group(1).split('.'))


def matching_torchvision(torch_version):
    """The torchvision release series (``'0.29'``) built for a torch 2.x version."""
    major, minor = (release(torch_version) + (0, ))[:2]
    return f'0.{minor + 15}'


def _in_range(version):
    low, high = (release(bound) for bound in TORCH_RANGE)
    return low <= release(version) < high


def decide(torch_version, torchvision_version, force_pins=False):
    """What to install for torch/torchvision.

    Args:
        torch_version (str | None): The installed torch version, None when torch is absent.
        torchvision_version (str | None): The installed torchvision version, None when absent.
        force_pins (bool): Install the tested pair whatever is installed (``SDAKD_TORCH=pinned``).

    Returns:
        tuple[str, list[str]]: ``('pins', [])`` to install requirements.txt's pair, or ``('keep', lines)`` with
        the requirement lines that stand in for it and hold the installed torch (and torchvision) in place.

    Raises:
        UnsupportedTorch: an installed torch outside :data:`TORCH_RANGE`, or a torchvision built for another torch.
    """
    if force_pins or torch_version is None:
        return 'pins', []
    if not _in_range(torch_version):
        raise UnsupportedTorch(
            f'the installed torch {torch_version} is outside the supported range {TORCH_REQUIREMENT}. Install a torch '
            f'in that range built for your CUDA (https://pytorch.org/get-started/locally/), or run '
            f'SDAKD_TORCH=pinned bash scripts/install.sh to replace it with the tested pair of requirements.txt.')
    series = matching_torchvision(torch_version)
    lines = [f'torch=={torch_version}']
    if torchvision_version is None:
        lines.append(f'torchvision=={series}.*')
    elif release(torchvision_version)[:2] != release(series):
        raise UnsupportedTorch(
            f'the installed torchvision {torchvision_version} is not built for the installed torch {torch_version} '
            f'(that is torchvision {series}.x). Install the matching torchvision from the index your torch came '
            f'from, or run SDAKD_TORCH=pinned bash scripts/install.sh to install the tested pair.')
    else:
        lines.append(f'torchvision=={torchvision_version}')
    return 'keep', lines


def requirements_without_pair(text):
    """``requirements.txt`` text without its torch and torchvision lines."""
    pattern = re.compile(r'^\s*(' + '|'.join(PAIR) + r')\s*([=<>!~;\[]|$)', re.IGNORECASE)
    return ''.join(line for line in text.splitlines(keepends=True) if not pattern.match(line))


def installed_version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description='Write the requirements for this environment: the pinned '
                                     'torch/torchvision pair where torch is absent, else the installed pair.')
    parser.add_argument('--requirements', default='requirements.txt', help='the pinned requirements file')
    parser.add_argument('--out', required=True, help='where to write the requirements to install')
    args = parser.parse_args(argv)
    with open(args.requirements) as handle:
        pinned = handle.read()
    torch_version, torchvision_version = installed_version('torch'), installed_version('torchvision')
    try:
        action, lines = decide(torch_version, torchvision_version,
                               force_pins=os.environ.get('SDAKD_TORCH') == 'pinned')
    except UnsupportedTorch as error:
        print(f'install: {error}', file=sys.stderr)
        return 2
    with open(args.out, 'w') as handle:
        if action == 'pins':
            handle.write(pinned)
        else:
            handle.write('\n'.join(lines) + '\n' + requirements_without_pair(pinned))
    if action == 'pins':
        print('install: torch/torchvision: the tested pair of requirements.txt')
    else:
        print(f'install: keeping the installed {" and ".join(lines)} (supported: {TORCH_REQUIREMENT})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
