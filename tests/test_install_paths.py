"""Every install path carries the start-up hook: regular, editable and wheel, each into a fresh venv.

The fresh venv sees this environment's torch and basicsr through a path entry (so nothing is downloaded or
rebuilt) and gets only sdakd_basicsr installed, by each path in turn; then ``import basicsr`` alone must register
our classes, which only the start-up ``.pth`` can do.
"""
import glob
import os
import subprocess
import sys
import sysconfig

import pytest

from helpers import REPO_ROOT

PROBE = ('import basicsr, sys, sdakd_basicsr; from basicsr.utils.registry import MODEL_REGISTRY; '
         'MODEL_REGISTRY.get("SDAKDModel"); print(sdakd_basicsr.__file__)')


def make_venv(folder):
    # without its own pip and setuptools: the outer ones (pip, setuptools with bdist_wheel) do the install
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(folder)], check=True)
    python = os.path.join(str(folder), 'bin', 'python')
    site = subprocess.run([python, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                          check=True, capture_output=True, text=True).stdout.strip()
    # this environment's packages (torch, basicsr, setuptools, wheel) as a plain path entry: their .pth files,
    # ours included, are not run in the new venv
    with open(os.path.join(site, 'zz_outer_environment.pth'), 'w') as handle:
        handle.write(sysconfig.get_paths()['purelib'] + '\n')
    return python, site


def pip(python, *args, cwd=REPO_ROOT):
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK='1', PIP_NO_INDEX='1')
    env.pop('PYTHONPATH', None)
    proc = subprocess.run([python, '-m', 'pip', *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]


PATHS = ['regular', 'editable', 'wheel']


@pytest.fixture(scope='module')
def probed(tmp_path_factory):
    """Path -> (site-packages of its fresh venv, the probe's completed process). The installs run one after another
    (they build in the same checkout); the three probes, each a process of its own, start together."""
    common = ('--no-deps', '--no-build-isolation')
    venvs = {}
    for path in PATHS:
        folder = tmp_path_factory.mktemp(path)
        python, site = make_venv(folder / 'venv')
        if path == 'regular':
            pip(python, 'install', *common, '.')
        elif path == 'editable':
            pip(python, 'install', *common, '-e', '.')
        else:
            pip(python, 'wheel', *common, '-w', str(folder / 'dist'), '.')
            pip(python, 'install', '--no-deps', *glob.glob(str(folder / 'dist' / 'sdakd_basicsr-*.whl')))
        venvs[path] = (python, site, str(folder))
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    probes = {path: subprocess.Popen([python, '-c', PROBE], cwd=folder, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True) for path, (python, _, folder) in venvs.items()}
    results = {}
    for path, probe in probes.items():
        out, err = probe.communicate(timeout=300)
        results[path] = (venvs[path][1], subprocess.CompletedProcess(probe.args, probe.returncode, out, err))
    return results


@pytest.mark.slow
@pytest.mark.parametrize('path', PATHS)
def test_install_path_carries_the_startup_hook(probed, path):
    site, proc = probed[path]
    assert os.path.isfile(os.path.join(site, 'sdakd_basicsr-startup.pth'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    installed_from = os.path.dirname(os.path.dirname(proc.stdout.strip().splitlines()[-1]))
    assert installed_from == (REPO_ROOT if path == 'editable' else site)
