"""The generator loss terms a stage can switch on (``train.stages[i].losses``), one registered entry each.

A term names its option block in ``train`` (built with BasicSR's ``build_loss``), the target the student is
compared with, and how the criterion is called. ``SDAKDModel`` computes the active terms of a stage in
registration order and logs each under its key; :mod:`sdakd_basicsr.models.stages` checks stage loss names and
option blocks against this registry. Adding a loss is one ``*_loss.py`` file in this package that registers its
criterion class and its term (see CONTRIBUTING.md, "Adding a loss").
"""
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

#: what a term compares the student with:
#: ``gt``: the ground truth; a family may sharpen it per term (Real-ESRGAN's ``l1_gt_usm`` for ``pixel``, ...),
#: ``teacher_output``: the frozen teacher's image for the same input,
#: ``teacher_features``: the teacher's tapped feature maps (the student's pass through the feature adapters),
#: ``discriminator``: the stage's adversarial discriminator (``adv_d``), which should call the image real.
TARGETS = ('gt', 'teacher_output', 'teacher_features', 'discriminator')


def compare(criterion, prediction, target):
    """The usual call: ``criterion(prediction, target)``, one tensor."""
    return criterion(prediction, target)


@dataclass(frozen=True)
class LossTerm:
    """One generator loss term.

    Attributes:
        name (str): Its name in ``train.stages[i].losses``.
        option_key (str): Its option block in ``train`` (``type`` and arguments of a registered loss class).
        target (str): One of :data:`TARGETS`.
        log_key (str): Key of the logged value, ``l_g_<name>`` unless said otherwise.
        compute (callable): ``compute(criterion, prediction, target)`` -> a tensor, or a dict ``log key -> tensor
            or None`` for criteria that return several parts. ``prediction`` is the student image, or for
            ``teacher_features`` the adapted student features. Default: :func:`compare`.
    """
    name: str
    option_key: str
    target: str
    log_key: str
    compute: Callable = compare

    @property
    def uses_teacher(self):
        return self.target in ('teacher_output', 'teacher_features')


#: stage loss name -> :class:`LossTerm`, in registration order (the order terms are computed, summed and logged)
LOSS_TERMS = OrderedDict()


def register_loss_term(name, option_key, target, log_key=None, compute=compare):
    """Register a generator loss term; see :class:`LossTerm` for the arguments. Returns the term."""
    if target not in TARGETS:
        raise ValueError(f'loss term {name!r}: target {target!r} is not one of {TARGETS}')
    if name in LOSS_TERMS:
        raise ValueError(f'loss term {name!r} is registered twice')
    LOSS_TERMS[name] = LossTerm(name, option_key, target, log_key or f'l_g_{name}', compute)
    return LOSS_TERMS[name]


def _perceptual(criterion, prediction, target):
    l_percep, l_style = criterion(prediction, target)  # BasicSR returns None for a part whose weight is 0
    return OrderedDict(l_g_percep=l_percep, l_g_style=l_style)


def _adversarial(criterion, prediction, net_d):
    return criterion(net_d(prediction), True, is_disc=False)


register_loss_term('pixel', 'pixel_opt', 'gt', 'l_g_pix')
register_loss_term('perceptual', 'perceptual_opt', 'gt', 'l_g_percep', _perceptual)
register_loss_term('distill', 'distill_opt', 'teacher_features')
register_loss_term('output_distill', 'output_distill_opt', 'teacher_output')
register_loss_term('gan', 'gan_opt', 'discriminator', compute=_adversarial)
