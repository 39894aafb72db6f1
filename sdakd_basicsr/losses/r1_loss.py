"""StyleGAN2's lazy R1 regularisation of a discriminator, shared by the SDAKD and GCFSR teacher models."""
from basicsr.losses.gan_loss import r1_penalty


def lazy_r1_loss(net_d, real, weight, reg_every):
    """R1 penalty on real images, scaled by the interval it is applied at: ``weight / 2 · R1 · reg_every``.

    Args:
        net_d (nn.Module): The discriminator being trained.
        real (Tensor): Real images (detached here).
        weight (float): ``train.r1_reg_weight``.
        reg_every (int): ``train.net_d_reg_every``: the penalty runs every that many iterations.
    """
    real = real.detach().requires_grad_(True)
    real_pred = net_d(real)
    # the zero term keeps D's output in the graph: DDP expects every output to take part in the backward pass
    return weight / 2 * r1_penalty(real_pred, real) * reg_every + 0 * real_pred.mean()
