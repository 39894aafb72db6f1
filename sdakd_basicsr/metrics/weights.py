"""Pretrained weight files for the metrics: found locally, handed to the libraries without any download.

pytorch-fid and lpips (through torchvision) fetch their backbones with ``torch.hub.load_state_dict_from_url``,
which reads ``<torch hub dir>/checkpoints/<file name>`` when that file exists and downloads it otherwise.
:func:`offline_hub` points the hub at a folder that holds the file we found (``$TORCH_HOME/hub/checkpoints`` or
a path given on the command line) and turns any download attempt into an error.
"""
import contextlib
import os
import tempfile

import torch


class WeightFileMissing(FileNotFoundError):
    """A metric's weight file is not on this machine; the message names the file and where to put it."""

    def __init__(self, file_name, metric, option):
        self.file_name, self.metric, self.option = file_name, metric, option
        super().__init__(f'{metric}: weight file {file_name} not found; put it in {hub_checkpoints_dir()}/ '
                         f'(that is $TORCH_HOME/hub/checkpoints) or pass its path with {option}')


def hub_checkpoints_dir():
    """Where torch.hub keeps downloaded weights: ``$TORCH_HOME/hub/checkpoints`` (default ~/.cache/torch/...)."""
    return os.path.join(torch.hub.get_dir(), 'checkpoints')


def find_weight_file(file_name, explicit_path=None, metric='metric', option='--weights'):
    """Path of ``file_name``: ``explicit_path`` if given, else the torch hub checkpoint folder.

    Args:
        file_name (str): The file name the library expects (it also checks the hash prefix in it).
        explicit_path (str | None): A path given on the command line; must exist when given.
        metric (str): Metric name, for the error message.
        option (str): Command-line option that takes the path, for the error message.

    Raises:
        WeightFileMissing: The file is in neither place.
    """
    if explicit_path:
        if not os.path.isfile(explicit_path):
            raise FileNotFoundError(f'{metric}: {option} {explicit_path} does not exist (expected the file '
                                    f'{file_name})')
        return os.path.abspath(explicit_path)
    candidate = os.path.join(hub_checkpoints_dir(), file_name)
    if os.path.isfile(candidate):
        return candidate
    raise WeightFileMissing(file_name, metric, option)


def _refuse_download(url, *args, **kwargs):
    raise RuntimeError(f'a metric tried to download {url}; nothing is downloaded here. Put the file named at the '
                       f'end of that address into {hub_checkpoints_dir()}/ or pass its path on the command line.')


@contextlib.contextmanager
def offline_hub(path, file_name):
    """Within the block torch.hub finds ``path`` under the name ``file_name`` and never downloads."""
    old_dir = torch.hub._hub_dir  # None unless set_dir was called: restoring it keeps $TORCH_HOME in charge
    old_download = torch.hub.download_url_to_file
    with tempfile.TemporaryDirectory(prefix='sdakd-metric-hub-') as hub:
        os.makedirs(os.path.join(hub, 'checkpoints'))
        os.symlink(os.path.abspath(path), os.path.join(hub, 'checkpoints', file_name))
        torch.hub.set_dir(hub)
        torch.hub.download_url_to_file = _refuse_download
        try:
            yield
        finally:
            torch.hub._hub_dir = old_dir
            torch.hub.download_url_to_file = old_download
