"""The commands the README and the user guides show exist, with every flag they pass.

A renamed module, a removed script or a dropped option breaks a user's first steps silently; this reads each
``bash`` block, resolves each command to the code it runs and checks that code defines every ``--flag`` used.
"""
import importlib
import inspect
import os
import re

import pytest

from helpers import REPO_ROOT

#: commands whose code is not ours (BasicSR's training entry, torchrun, pytest) or that only set up
EXTERNAL = (('python', '-m', 'basicsr.train'), ('torchrun', ), ('python', '-m', 'pytest'))


def shown_commands(doc):
    with open(os.path.join(REPO_ROOT, doc)) as handle:
        blocks = re.findall(r'```bash\n(.*?)```', handle.read(), re.DOTALL)
    lines = [re.sub(r'\s+#.*$', '', line) for block in blocks for line in block.replace('\\\n', ' ').splitlines()]
    return [part.strip() for line in lines for part in line.split('&&') if part.strip()]


def code_behind(words):
    """Source text of what ``words`` runs, or None for external commands; scripts bring the package modules
    they import (thin wrappers define their flags there)."""
    if any(tuple(words[:len(prefix)]) == prefix for prefix in EXTERNAL):
        return None
    if words[:2] == ['python', '-m']:
        return inspect.getsource(importlib.import_module(words[2]))
    if words[0] in ('python', 'bash'):
        path = os.path.join(REPO_ROOT, words[1])
        assert os.path.isfile(path), f'{words[1]} does not exist'
        with open(path) as handle:
            source = handle.read()
        for module in re.findall(r'^from (sdakd_basicsr[\w.]*) import', source, re.MULTILINE):
            source += inspect.getsource(importlib.import_module(module))
        return source
    raise AssertionError(f'unexpected command {" ".join(words)}')


@pytest.mark.parametrize('doc,least', [('README.md', 12), ('docs/own_photos.md', 7)])
def test_shown_commands_exist_with_their_flags(doc, least):
    checked = 0
    for command in shown_commands(doc):
        words = command.split()
        source = code_behind(words)
        if source is None:
            continue
        for flag in (w.split('=')[0] for w in words if w.startswith('--') and w != '--help'):
            assert f"'{flag}'" in source, f'{doc}: {flag} of `{command}` is not defined by the code it runs'
        checked += 1
    assert checked >= least, f'{doc}: only {checked} commands checked'
