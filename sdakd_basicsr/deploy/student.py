"""A trained student generator outside training: load it from a training checkpoint or an export, export it.

Two kinds of files hold a student:

* a **training checkpoint** ``experiments/<name>/models/net_g_<iter>.pth`` (BasicSR format, ``params`` and,
  with EMA, ``params_ema``) plus the **training option file**, which says the family and the architecture
  (``network_g``, or ``network_g_teacher`` scaled by ``sdakd.width``);
* an **export** ``<name>.pth`` (``{'params': state_dict}``, the generator alone) with its **card**
  ``<name>.yml`` beside it: family, architecture options, scale, value range (see :func:`export_pth`).

Exports keep the key ``params``: BasicSR's ``load_network`` reads ``params`` by default and falls back to it
when asked for ``params_ema``, Real-ESRGAN's inference code and spandrel read either, so ``params`` is the key
every loader finds.
"""
import os
from copy import deepcopy
from dataclasses import dataclass, field

import yaml

import sdakd_basicsr  # noqa: F401  (registers the package's archs with BasicSR)
from basicsr.archs import build_network

from sdakd_basicsr.families import DEFAULT_FAMILY, build_family, family_for_generator, family_from_options
from sdakd_basicsr.utils.checkpoint import atomic_torch_save, load_checked, load_checkpoint_file
from sdakd_basicsr.utils.file_kinds import check_generator_file
from sdakd_basicsr.utils.options import load_options

CARD_VERSION = 1
EXPORT_PARAM_KEY = 'params'


@dataclass
class StudentSpec:
    """What is needed to rebuild and run a student generator.

    Attributes:
        family (str): ``sdakd.family``.
        network_g (dict): BasicSR network options (``type`` + arguments).
        scale (int | None): Upscaling factor of size-changing generators; None for generators whose output has
            the input's size (the family's ``deploy_fields`` say which).
        cond_norm (float | None): For factor-conditioned generators: ``in_size = factor / cond_norm``.
        source (dict): Where the weights came from (checkpoint, key, option file), for the card.
    """

    family: str
    network_g: dict
    scale: int = None
    cond_norm: float = None
    source: dict = field(default_factory=dict)

    @property
    def family_adapter(self):
        return build_family(self.family)

    def build(self):
        """The architecture with fresh weights."""
        return build_network(deepcopy(self.network_g))

    def card(self):
        """The YAML card written beside an export."""
        low, high = self.family_adapter.value_range
        card = {'card_version': CARD_VERSION, 'family': self.family, 'network_g': dict(self.network_g),
                'param_key': EXPORT_PARAM_KEY, 'value_range': [float(low), float(high)]}
        if self.scale is not None:
            card['scale'] = int(self.scale)
        if self.cond_norm is not None:
            card['cond_norm'] = float(self.cond_norm)
        card['inputs'] = list(self.family_adapter.input_keys)
        card['source'] = dict(self.source)
        return card


def read_yaml(path):
    """A YAML file (option file or card) with BasicSR's loader (the one training option files are read with)."""
    return load_options(path)


def card_path_text(path):
    """A path as a card records it: relative to the working directory when inside it (a card shipped with a
    repository then names files in that repository, not on the machine it was exported on), else absolute."""
    relative = os.path.relpath(os.path.abspath(path))
    return os.path.abspath(path) if relative == os.pardir or relative.startswith(os.pardir + os.sep) else relative


def card_path_for(weights_path):
    """``foo.pth`` / ``foo.onnx`` -> ``foo.yml``."""
    return os.path.splitext(weights_path)[0] + '.yml'


def _plain(obj):
    """OrderedDicts and tuples from YAML/options as plain dicts and lists (clean ``yaml.safe_dump``)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def spec_from_training_options(option_file):
    """:class:`StudentSpec` of the student a training option file trains (``network_g`` resolved)."""
    from sdakd_basicsr.utils.options import resolve_options
    if not os.path.isfile(option_file):
        raise FileNotFoundError(f'option file {option_file!r} does not exist; pass the training option file the '
                                'checkpoint was trained with (-opt of python -m basicsr.train).')
    opt = _plain(read_yaml(option_file))
    if 'family' not in (opt.get('sdakd') or {}):
        if 'network_g' not in opt:
            raise ValueError(f'{option_file}: neither sdakd.family nor network_g is set; this is not an SDAKD or '
                             'BasicSR training option file.')
        family_name = family_for_generator(opt['network_g'].get('type')) or DEFAULT_FAMILY
        opt['sdakd'] = dict(opt.get('sdakd') or {}, family=family_name)
    if opt.get('network_g') is None:
        opt, family = resolve_options(opt)
    else:
        family = family_from_options(opt)
    return StudentSpec(family.name, opt['network_g'], source={'option_file': card_path_text(option_file),
                                                              'name': opt.get('name')}, **family.deploy_fields(opt))


def spec_from_card(card_path):
    """:class:`StudentSpec` from an export's YAML card."""
    card = read_yaml(card_path)
    for key in ('family', 'network_g'):
        if key not in card:
            raise ValueError(f'{card_path}: the card has no {key!r}; re-export the student with '
                             'scripts/export_student.py.')
    return StudentSpec(card['family'], _plain(card['network_g']), scale=card.get('scale'),
                       cond_norm=card.get('cond_norm'), source=_plain(card.get('source', {})))


def find_spec(checkpoint, option_file=None):
    """The :class:`StudentSpec` for ``checkpoint``: from ``option_file`` if given, else from the card beside it."""
    if option_file:
        return spec_from_training_options(option_file)
    card = card_path_for(checkpoint)
    if os.path.isfile(card):
        return spec_from_card(card)
    raise FileNotFoundError(f'{checkpoint}: no card {card} beside it and no option file given; pass the training '
                            'option file (-opt / --opt options/....yml) for a training checkpoint, or export the '
                            'student with scripts/export_student.py.')


def load_student(checkpoint, option_file=None, param_key='params_ema'):
    """Build the student generator and load its weights (CPU, eval mode).

    Args:
        checkpoint (str): ``net_g_<iter>.pth`` from training, or an exported ``.pth``.
        option_file (str | None): The training option file; needed for training checkpoints, not for exports.
        param_key (str): Entry of a training checkpoint: ``params_ema`` (EMA weights, default) or ``params``.
            Exports hold one entry (``params``), which is used whatever this says.

    Returns:
        tuple[nn.Module, StudentSpec]
    """
    if not os.path.isfile(checkpoint):
        raise FileNotFoundError(f'student checkpoint {checkpoint!r} does not exist; point to '
                                'experiments/<name>/models/net_g_<iter>.pth or to an exported .pth.')
    spec = find_spec(checkpoint, option_file)
    state = load_checkpoint_file(checkpoint, '--model')
    check_generator_file(checkpoint, state)  # a training state, a discriminator...: say which file to pass
    exported = option_file is None
    if not exported and isinstance(state, dict) and param_key not in state:
        present = [k for k in state if isinstance(state[k], dict)]
        raise KeyError(f'{checkpoint} has no {param_key!r} entry (it has {present}); choose one of those with '
                       '--param-key (params_ema exists only when the run used train.ema_decay > 0).')
    net = spec.build()
    used = load_checked(net, checkpoint, EXPORT_PARAM_KEY if exported else param_key, True, checkpoint,
                        'network_g')
    spec.source = dict(spec.source, checkpoint=card_path_text(checkpoint), param_key=used)
    return net.eval(), spec


def export_pth(net, spec, out_path):
    """Write ``{'params': generator state dict}`` to ``out_path`` and the card to ``<out_path stem>.yml``.

    Only the generator's own tensors are written (feature adapters and discriminators live in other files and
    modules and never reach it). Returns the card path.
    """
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    atomic_torch_save({EXPORT_PARAM_KEY: state}, out_path)
    return write_card(spec, out_path)


def write_card(spec, weights_path):
    """Write the YAML card of ``spec`` beside ``weights_path`` (``.pth`` or ``.onnx``); return its path."""
    card = card_path_for(weights_path)
    with open(card, 'w') as handle:
        handle.write('# sdakd_basicsr student export: rebuild with basicsr.archs.build_network(network_g) and load\n'
                     f'# the "{EXPORT_PARAM_KEY}" entry of the .pth (or run the .onnx) beside this file.\n')
        yaml.safe_dump(_plain(spec.card()), handle, sort_keys=False)
    return card


__all__ = ['StudentSpec', 'card_path_for', 'export_pth', 'find_spec', 'load_student', 'read_yaml', 'spec_from_card',
           'spec_from_training_options', 'write_card']
