"""The start-up hook that plugs sdakd_basicsr into an unmodified BasicSR."""
import importlib.util
import os
import subprocess
import sys
import sysconfig

import pytest

import sdakd_basicsr_startup
from helpers import REPO_ROOT, run_cli, run_clis


def this_checkout_hook():
    """This checkout's ``sdakd_basicsr_startup`` (an installed hook imports the installed one at start-up)."""
    path = os.path.join(REPO_ROOT, 'sdakd_basicsr_startup.py')
    spec = importlib.util.spec_from_file_location('checkout_startup', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def with_only_this_hook(tmp_path, code):
    """``python -S -c code`` where only a fresh site dir holding this checkout's ``.pth`` file is processed.

    ``-S`` skips the environment's own site-packages (and any hook an install put there); the fresh dir is added
    with ``site.addsitedir``, which runs the ``.pth`` line as interpreter start-up does. The environment's
    packages follow on ``sys.path`` without their ``.pth`` files.
    """
    site_dir = tmp_path / 'site'
    site_dir.mkdir()
    this_checkout_hook().write_pth(str(site_dir))
    prologue = (f'import site, sys; site.addsitedir({str(site_dir)!r}); '
                f'sys.path.append({sysconfig.get_paths()["purelib"]!r}); ')
    return run_cli(['-S', '-c', prologue + code], cwd=str(tmp_path))


def test_hook_file_installs_the_finder_and_imports_nothing_heavy(tmp_path):
    code = ('print(sorted(m for m in ("torch", "basicsr", "sdakd_basicsr") if m in sys.modules), '
            '[type(f).__name__ for f in sys.meta_path][:1])')
    proc = with_only_this_hook(tmp_path, code)
    # start-up stays cheap until basicsr is imported, and the finder that acts then is in place
    assert proc.stdout.split('\n')[0] == "[] ['_BasicsrFinder']", proc.stdout + proc.stderr


@pytest.mark.slow
def test_plain_basicsr_import_registers_our_classes(tmp_path):
    code = ('import basicsr; from basicsr.utils.registry import ARCH_REGISTRY, LOSS_REGISTRY, MODEL_REGISTRY, '
            'DATASET_REGISTRY; MODEL_REGISTRY.get("SDAKDModel"); LOSS_REGISTRY.get("FeatureMapDistillLoss"); '
            'ARCH_REGISTRY.get("GCFSRGenerator"); DATASET_REGISTRY.get("GCFSRTrainDataset"); '
            'print("ok", "sdakd_basicsr" in sys.modules)')
    proc = with_only_this_hook(tmp_path, code)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith('ok True')


def test_regular_install_build_carries_the_hook(tmp_path):
    build_lib = tmp_path / 'build'
    proc = subprocess.run([sys.executable, 'setup.py', '-q', 'build_py', '--build-lib', str(build_lib)], cwd=REPO_ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (build_lib / sdakd_basicsr_startup.PTH_NAME).read_text() == sdakd_basicsr_startup.PTH_LINE
    assert (build_lib / 'sdakd_basicsr' / 'models' / 'sdakd_model.py').is_file()


ALIAS_PROBE = """
import sys, sdakd_basicsr_startup
sdakd_basicsr_startup.install()
import torchvision.transforms
if sys.argv[1] != '-':  # a torchvision that still ships the module: it lies in this extra folder
    torchvision.transforms.__path__.append(sys.argv[1])
import torchvision.transforms.functional_tensor as ft
print(getattr(ft, 'MARKER', 'alias'), ft.rgb_to_grayscale is torchvision.transforms.functional.rgb_to_grayscale)
"""


@pytest.mark.slow
def test_torchvision_alias_only_when_the_module_is_missing(tmp_path):
    extra = tmp_path / 'extra'  # a torchvision that still ships the module: it lies here
    extra.mkdir()
    (extra / 'functional_tensor.py').write_text('MARKER = "real"\ndef rgb_to_grayscale(img):\n    return img\n')
    missing, present = run_clis([(['-c', ALIAS_PROBE, '-'], str(tmp_path)),  # both processes start together
                                 (['-c', ALIAS_PROBE, str(extra)], str(tmp_path))])
    assert missing.stdout.split() == ['alias', 'True'], missing.stderr[-2000:]  # missing: the alias stands in
    assert present.stdout.split() == ['real', 'False'], present.stderr[-2000:]  # present: the real module is kept
