"""The install keeps a user's compatible torch; the pinned pair is for environments without one (and CI)."""
import os
import re
import runpy
import subprocess
import sys

import pytest

from helpers import REPO_ROOT
from sdakd_basicsr import torch_support
from sdakd_basicsr.torch_support import UnsupportedTorch, decide

REQUIREMENTS = os.path.join(REPO_ROOT, 'requirements.txt')


def pinned(name):
    with open(REQUIREMENTS) as handle:
        return re.search(rf'^{name}==(\S+)', handle.read(), re.MULTILINE).group(1)


def test_no_torch_gets_the_pinned_pair():
    assert decide(None, None) == ('pins', [])
    assert decide('2.9.0', '0.24.0', force_pins=True) == ('pins', [])


def test_an_installed_cuda_build_in_range_is_kept():
    assert decide('2.9.0+cu126', '0.24.0+cu126') == ('keep', ['torch==2.9.0+cu126', 'torchvision==0.24.0+cu126'])
    assert decide('2.7.1', None) == ('keep', ['torch==2.7.1', 'torchvision==0.22.*'])  # the matching torchvision


@pytest.mark.parametrize('torch_version, torchvision_version, match', [
    ('2.1.2', '0.16.2', r'torch 2\.1\.2 is outside the supported range torch>=2\.6,<3'),
    ('3.0.0', None, 'outside the supported range'),
    ('2.9.0', '0.29.1', r'torchvision 0\.29\.1 is not built for the installed torch 2\.9\.0 .*0\.24'),
])
def test_an_unusable_installed_torch_is_reported_with_the_way_out(torch_version, torchvision_version, match):
    with pytest.raises(UnsupportedTorch, match=match) as info:
        decide(torch_version, torchvision_version)
    assert 'SDAKD_TORCH=pinned bash scripts/install.sh' in str(info.value)


def test_the_tested_pair_lies_in_the_supported_range():
    assert decide(pinned('torch'), pinned('torchvision'))[0] == 'keep'


@pytest.mark.parametrize('installed, expect_pins', [({}, True), ({'torch': '2.9.0+cu126', 'torchvision': '0.24.0'},
                                                                 False)])
def test_the_requirements_the_install_script_installs(tmp_path, monkeypatch, installed, expect_pins):
    monkeypatch.setattr(torch_support, 'installed_version', installed.get)  # the environment boundary
    monkeypatch.delenv('SDAKD_TORCH', raising=False)
    out = tmp_path / 'requirements.txt'
    assert torch_support.main(['--requirements', REQUIREMENTS, '--out', str(out)]) == 0
    text = out.read_text()
    assert ('torch==' + pinned('torch') in text) == expect_pins
    assert ('torch==2.9.0+cu126' in text) != expect_pins
    assert 'torchvision==' in text and 'numpy>=' in text


def test_out_of_range_torch_stops_the_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch_support, 'installed_version', {'torch': '1.13.1', 'torchvision': '0.14.1'}.get)
    monkeypatch.delenv('SDAKD_TORCH', raising=False)
    assert torch_support.main(['--requirements', REQUIREMENTS, '--out', str(tmp_path / 'r.txt')]) == 2
    assert 'torch>=2.6,<3' in capsys.readouterr().err


def test_the_install_script_runs_the_decision_without_the_package_importable(tmp_path):
    """install.sh runs the file before torch or basicsr may exist: it must use the standard library only."""
    out = tmp_path / 'r.txt'
    proc = subprocess.run([sys.executable, '-S', '-I', os.path.join('sdakd_basicsr', 'torch_support.py'),
                           '--requirements', REQUIREMENTS, '--out', str(out)], cwd=REPO_ROOT, capture_output=True,
                          text=True, env={'SDAKD_TORCH': 'pinned'})
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == open(REQUIREMENTS).read()
    with open(os.path.join(REPO_ROOT, 'scripts', 'install.sh')) as handle:
        script = handle.read()
    assert 'sdakd_basicsr/torch_support.py' in script and '-r requirements.txt' not in script


def test_setup_declares_the_range_and_the_licence():
    namespace = runpy.run_path(os.path.join(REPO_ROOT, 'sdakd_basicsr', 'torch_support.py'))
    assert namespace['TORCH_REQUIREMENT'] == 'torch>=2.6,<3'
    with open(os.path.join(REPO_ROOT, 'setup.py')) as handle:
        setup_py = handle.read()
    assert 'TORCH_REQUIREMENT,' in setup_py and "license='Apache-2.0'" in setup_py
    with open(os.path.join(REPO_ROOT, 'LICENSE')) as handle:
        licence = handle.read()
    assert 'Apache License' in licence and 'Version 2.0, January 2004' in licence
    assert 'END OF TERMS AND CONDITIONS' in licence
