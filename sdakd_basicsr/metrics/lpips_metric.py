"""LPIPS with the ``lpips`` package; its ImageNet backbone is read from a local torchvision weight file.

The linear calibration weights ship inside the lpips wheel; the backbone (AlexNet by default) is torchvision's,
which lpips would download: here it must be in the torch hub folder or given on the command line.
"""
import torch

from sdakd_basicsr.metrics.weights import find_weight_file, offline_hub

#: lpips ``net`` -> the torchvision weight file it loads
BACKBONE_FILES = {'alex': 'alexnet-owt-7be5be79.pth', 'vgg': 'vgg16-397923af.pth',
                  'squeeze': 'squeezenet1_1-b8a52dc0.pth'}


def build_lpips(net='alex', backbone_path=None, device='cpu'):
    """``lpips.LPIPS(net=net)`` in eval mode, without any download.

    Args:
        net (str): ``alex`` (default, the usual choice for SR papers), ``vgg`` or ``squeeze``.
        backbone_path (str | None): The torchvision weight file of that backbone; default: the torch hub folder.
        device (str | torch.device): Where it runs.

    Raises:
        WeightFileMissing: The backbone file is not found.
    """
    import lpips
    if net not in BACKBONE_FILES:
        raise ValueError(f'LPIPS net {net!r}: choose one of {sorted(BACKBONE_FILES)}')
    path = find_weight_file(BACKBONE_FILES[net], backbone_path, f'LPIPS ({net})', '--lpips-backbone')
    with offline_hub(path, BACKBONE_FILES[net]):
        model = lpips.LPIPS(net=net, verbose=False)
    return model.eval().to(device)


@torch.no_grad()
def lpips_distance(model, image, reference):
    """LPIPS between two (N, 3, H, W) RGB batches in [0, 1] (lower is closer); one value per image."""
    device = next(model.parameters()).device
    return model(image.to(device), reference.to(device), normalize=True).flatten().cpu()
