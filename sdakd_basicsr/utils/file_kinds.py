"""What a checkpoint file is, for errors when the wrong file of an experiment is passed.

An experiment folder holds several kinds of files beside the student generator: training states
(``training_states/<iter>.state``: optimizers, schedulers, random streams), the student discriminator
(``models/net_d_<iter>.pth``), the teacher discriminator and the feature adapters (used only in training).
Export, inference and evaluation need the generator, ``models/net_g_<iter>.pth`` (entry ``params_ema``), or an
exported student. :func:`wrong_file_message` recognises the other kinds by name and content and says which
file to pass instead.
"""
import os
import re

_STATE_NAME = re.compile(r'^(\d+)\.state$')
_NET_NAME = re.compile(r'^net_(d_teacher|d|feat_adapters)_(\d+|latest)\.pth$')
_NET_KINDS = {'d': 'the student discriminator (used only in training)',
              'd_teacher': 'the teacher discriminator (used only in training)',
              'feat_adapters': 'the feature adapters of the distillation loss (used only in training)'}


def _generator_file(path, label):
    """``models/net_g_<label>.pth`` of the experiment ``path`` belongs to (its state or one of its models)."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.basename(folder) == 'training_states':
        folder = os.path.join(os.path.dirname(folder), 'models')
    return os.path.join(folder, f'net_g_{label}.pth')


def _advice(path, label):
    generator = _generator_file(path, label) if label else None
    if generator and os.path.isfile(generator):
        return (f'Pass the generator of the same iteration instead: {generator} (its entry params_ema holds the EMA '
                'weights, the default).')
    return ('Pass the student generator instead: experiments/<name>/models/net_g_<iter>.pth (entry params_ema, '
            'the default) or an exported student .pth.')


def describe_by_content(obj):
    """Kind of a loaded checkpoint object that is not a generator's weights, or None."""
    if not isinstance(obj, dict):
        return None
    if {'iter', 'optimizers'} <= set(obj):
        return f'a training state (iteration {obj["iter"]}: optimizers, schedulers, random streams)'
    if {'state', 'param_groups'} <= set(obj):
        return 'an optimizer state (torch.optim state_dict)'
    weights = obj.get('params', obj.get('params_ema', obj))
    if isinstance(weights, dict):
        keys = [k for k in weights if isinstance(k, str)]
        # spectral norm (Real-ESRGAN's U-Net D) or the StyleGAN2 D head (GCFSR's D; its G has final_linear.weight)
        if any(k.endswith(('weight_orig', 'weight_u')) or k.startswith('final_linear.1.') for k in keys):
            return 'a discriminator\'s weights'
        if keys and all(k.startswith(('adapters.', 'module.adapters.')) for k in keys):
            return 'feature adapters\' weights (used only in training)'
    return None


def wrong_file_message(path, obj=None):
    """Error text when ``path`` (loaded as ``obj`` if it could be) is not a generator's weights, else None."""
    name = os.path.basename(path)
    match = _STATE_NAME.match(name)
    if match:
        return f'{path} is a training state (optimizers, schedulers, random streams), not weights to run. ' + _advice(
            path, match.group(1))
    match = _NET_NAME.match(name)
    if match:
        return f'{path} holds {_NET_KINDS[match.group(1)]}, not the generator. ' + _advice(path, match.group(2))
    kind = describe_by_content(obj)
    if kind:
        return f'{path} is {kind}, not a generator\'s weights. ' + _advice(path, None)
    return None


def check_generator_file(path, obj):
    """Raise ``ValueError`` if ``path`` (loaded as ``obj``) is known not to hold a generator's weights."""
    message = wrong_file_message(path, obj)
    if message:
        raise ValueError(message)
