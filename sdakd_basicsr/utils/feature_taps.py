"""Forward hooks that record the outputs of named sub-modules (architectures stay untouched)."""
import difflib

import torch


def _first_tensor(output):
    # some blocks return tuples (e.g. (features, skip)); the feature map is the first tensor
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)):
        for item in output:
            if isinstance(item, torch.Tensor):
                return item
    raise TypeError(f'cannot tap a module whose output is {type(output).__name__}')


class FeatureTaps:
    """Records the output of each named module of ``net`` while :attr:`enabled` is True.

    Args:
        net (nn.Module): Network to tap (the bare module, not a DDP wrapper).
        layer_names (list[str]): Names as in ``net.named_modules()``, e.g. ``body.5`` or ``conv_body``.
        owner (str): Which network this is, for error messages (e.g. ``'teacher generator'``).
    """

    def __init__(self, net, layer_names, owner):
        modules = dict(net.named_modules())
        missing = [name for name in layer_names if name not in modules]
        if missing:
            hints = {name: difflib.get_close_matches(name, list(modules), n=5, cutoff=0.5) for name in missing}
            raise KeyError(f'distill_opt.layers: {owner} has no module named '
                           + '; '.join(f'{name!r} (close names: {hints[name] or "none"})' for name in missing))
        self.layer_names = list(layer_names)
        self.enabled = False
        self.features = {}
        self._handles = [modules[name].register_forward_hook(self._make_hook(name)) for name in self.layer_names]

    def _make_hook(self, name):

        def hook(module, inputs, output):
            if self.enabled:
                self.features[name] = _first_tensor(output)

        return hook

    def collect(self):
        """Features of the last forward pass in ``layer_names`` order; clears the store."""
        missing = [name for name in self.layer_names if name not in self.features]
        if missing:
            raise RuntimeError(f'tapped modules {missing} did not run in the last forward pass')
        features = [self.features[name] for name in self.layer_names]
        self.features = {}
        return features

    def remove(self):
        for handle in self._handles:
            handle.remove()
        self._handles = []
