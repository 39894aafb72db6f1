"""Option files, read once and resolved once.

:func:`load_options` reads a YAML option file as BasicSR's training command does (ordered mappings), and
:func:`resolve_options` returns the copy every command reads: the teacher family built from ``sdakd`` and the
student networks derived from the teacher's options (the caller's dict is left as it was).
"""
import os

import yaml

from basicsr.utils.options import ordered_yaml


def load_options(path):
    """The option dict of YAML file ``path``, read with BasicSR's ordered loader."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'option file {path!r} does not exist; pass an existing option file (-opt).')
    with open(path) as handle:
        return yaml.load(handle, Loader=ordered_yaml()[0])


def write_options(opt, path):
    """Write ``opt`` to ``path`` with BasicSR's ordered dumper (readable by :func:`load_options` and basicsr)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, 'w') as handle:
        yaml.dump(opt, handle, Dumper=ordered_yaml()[1], default_flow_style=None)


def main_option_files(root=None):
    """``{family name: path}`` of each family's main SDAKD option file (``main_option_file``) under ``root``/options.

    ``root`` defaults to the repository this package lies in (the benchmarks measure the repository's files).
    """
    from sdakd_basicsr.families import FAMILY_REGISTRY
    root = root or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return {name: os.path.join(root, 'options', cls.main_option_file) for name, cls in FAMILY_REGISTRY
            if getattr(cls, 'main_option_file', None)}


def resolve_options(opt):
    """``(resolved copy of opt, its configured teacher family)``: students derived, ``opt`` itself unchanged.

    See :func:`sdakd_basicsr.models.sdakd_model.resolve_network_options` for the derivation.
    """
    from sdakd_basicsr.families import family_from_options
    from sdakd_basicsr.models.sdakd_model import resolve_network_options
    family = family_from_options(opt)
    resolved = resolve_network_options(opt, family)
    family.configure(resolved['network_g_teacher'])
    return resolved, family


def load_resolved_options(path):
    """:func:`resolve_options` of the option file ``path``."""
    return resolve_options(load_options(path))
