"""Training a GCFSR teacher with the official recipe, as a BasicSR model (``model_type: GCFSRTeacherModel``)."""
from collections import OrderedDict
from os import path as osp

import torch

from basicsr.archs import build_network
from basicsr.losses import build_loss
from basicsr.models.sr_model import SRModel
from basicsr.utils import get_root_logger
from basicsr.utils.registry import MODEL_REGISTRY

from sdakd_basicsr.distributed import DistributedModelMixin
from sdakd_basicsr.families import build_family
from sdakd_basicsr.losses.r1_loss import lazy_r1_loss
from sdakd_basicsr.models.exact_resume import ExactResumeMixin

#: StyleGAN2's generator EMA: half-life of 10k images at 32 images per step, as GCFSR uses it.
DEFAULT_EMA_DECAY = 0.5**(32 / 10000)


def _probe_checkpoint(path):
    """Top-level structure of a checkpoint, read cheaply (memory-mapped when the format allows)."""
    try:
        return torch.load(path, map_location='cpu', mmap=True, weights_only=True)
    except RuntimeError:  # legacy (non-zip) files cannot be memory-mapped
        return torch.load(path, map_location='cpu', weights_only=True)


@MODEL_REGISTRY.register()
class GCFSRTeacherModel(ExactResumeMixin, DistributedModelMixin, SRModel):
    """GCFSR generator + StyleGAN2 discriminator (no minibatch-stddev) trained as in the official recipe.

    Per iteration (He et al., CVPR 2022, official ``train_gcfsr_gan.yml``):

    1. discriminator: softplus logistic loss on D(G(lq)) (detached) and D(gt); every ``net_d_reg_every``
       iterations a lazy R1 penalty on real images, ``r1_reg_weight / 2 · R1 · net_d_reg_every``;
    2. generator: non-saturating softplus GAN loss (``gan_opt``), plus ``pixel_opt`` and ``perceptual_opt``;
    3. EMA of the generator (``net_g_ema``), used for validation and saved as ``params_ema``.

    The generated batch of step 1 is reused in step 2 (one generator forward per iteration instead of two; the
    official code draws fresh noise for step 2, which is the same in distribution).

    Both Adam optimizers use StyleGAN2's lazy-regularisation scaling: with ``r`` = ``net_g_reg_every`` for G and
    ``net_d_reg_every`` for D and ``c = r / (r + 1)``, ``lr = optim.lr · c`` and ``betas = (b1**c, b2**c)``
    (GCFSR has no path-length regulariser but keeps this scaling for G with r = 4).

    Data: ``lq`` and ``gt`` in [-1, 1] (mean = std = 0.5), ``in_size`` (b, 1) = factor / cond_norm for the
    scale-conditioned generator (``GCFSRTrainDataset`` / ``GCFSRValDataset``). Validation metrics are computed
    on images mapped back to [0, 1]; images go to ``visualization/<val dataset name>/``.

    Options (``train:``), besides BasicSR's ``optim_g``, ``optim_d``, ``scheduler``, ``total_iter``:
        gan_opt (dict): required, e.g. ``{type: GANLoss, gan_type: wgan_softplus, loss_weight: 0.01}``.
        pixel_opt (dict | None): e.g. ``{type: L1Loss, loss_weight: 1}``.
        perceptual_opt (dict | None): e.g. VGG16 ``conv4_3`` with ``range_norm: true``, weight 0.01.
        r1_reg_weight (float): R1 weight; 0 disables it. Default: 10.
        net_d_reg_every (int): R1 interval and D's lazy-regularisation ratio. Default: 16.
        net_g_reg_every (int): G's lazy-regularisation ratio (no G regulariser runs). Default: 4.
        ema_decay (float): generator EMA decay; 0 disables the EMA. Default: 0.5 ** (32 / 10000).

    Options (``path:``): ``pretrain_network_g`` / ``param_key_g`` / ``strict_load_g`` and the ``_d`` ones.
    A bare state dict (such as the released ``gcfsr_blind_512.pth``) is detected and loaded as is.
    """

    def __init__(self, opt):
        self.family = build_family('gcfsr')
        self.family.configure(opt['network_g'])
        super().__init__(opt)  # SRModel: build net_g, load path.pretrain_network_g (bare dicts too, see the mixin)

    # ------------------------------------------------------------------------------------------------------
    # set-up
    # ------------------------------------------------------------------------------------------------------
    def _load_pretrained(self, net, label, param_key=None):
        """Load ``path.pretrain_network_<label>`` if set; returns the path (None when not set)."""
        path_opt = self.opt['path']
        load_path = path_opt.get(f'pretrain_network_{label}')
        if load_path is not None:
            self.load_network(net, load_path, path_opt.get(f'strict_load_{label}', True),
                              param_key or path_opt.get(f'param_key_{label}', 'params'))
        return load_path

    def init_training_settings(self):
        train_opt = self.opt['train']
        logger = get_root_logger()

        self.net_d = self.model_to_device(build_network(self.opt['network_d']))
        self.print_network(self.net_d)
        self._load_pretrained(self.net_d, 'd')

        self.ema_decay = train_opt.get('ema_decay', DEFAULT_EMA_DECAY)
        if self.ema_decay > 0:
            logger.info(f'Use Exponential Moving Average with decay: {self.ema_decay}')
            self.net_g_ema = build_network(self.opt['network_g']).to(self.device)
            load_path = self.opt['path'].get('pretrain_network_g')
            ckpt = _probe_checkpoint(load_path) if load_path is not None else None
            if isinstance(ckpt, dict) and 'params_ema' in ckpt:
                del ckpt
                self._load_pretrained(self.net_g_ema, 'g', param_key='params_ema')
            else:  # start the average at net_g, buffers (stored noise) included
                self.net_g_ema.load_state_dict(self.get_bare_model(self.net_g).state_dict())
            self.net_g_ema.eval()
        self.net_g.train()
        self.net_d.train()

        if not train_opt.get('gan_opt'):
            raise ValueError('GCFSRTeacherModel: train.gan_opt is required (GANLoss, gan_type wgan_softplus)')
        self.cri_gan = build_loss(train_opt['gan_opt']).to(self.device)
        self.cri_pix = build_loss(train_opt['pixel_opt']).to(self.device) if train_opt.get('pixel_opt') else None
        self.cri_perceptual = (build_loss(train_opt['perceptual_opt']).to(self.device)
                               if train_opt.get('perceptual_opt') else None)

        self.r1_reg_weight = float(train_opt.get('r1_reg_weight', 10))
        self.net_d_reg_every = int(train_opt.get('net_d_reg_every', 16))
        self.net_g_reg_every = int(train_opt.get('net_g_reg_every', 4))
        if self.r1_reg_weight > 0 and self.net_d_reg_every < 1:
            raise ValueError('GCFSRTeacherModel: train.net_d_reg_every must be >= 1 when r1_reg_weight > 0')

        self.setup_optimizers()
        self.setup_schedulers()

    def _lazy_reg_optimizer(self, net, optim_opt, reg_every):
        """Optimizer with StyleGAN2's lazy-regularisation scaling of lr and betas (reg_every < 1: no scaling)."""
        optim_opt = dict(optim_opt)  # leave the options untouched (they are logged and copied)
        optim_type = optim_opt.pop('type')
        ratio = reg_every / (reg_every + 1) if reg_every >= 1 else 1.0
        lr = optim_opt.pop('lr') * ratio
        beta1, beta2 = optim_opt.pop('betas', (0.0, 0.99))
        params = [p for p in net.parameters() if p.requires_grad]
        return self.get_optimizer(optim_type, params, lr, betas=(beta1**ratio, beta2**ratio), **optim_opt)

    def setup_optimizers(self):
        train_opt = self.opt['train']
        # the order is part of the resume state: G first, then D, always both
        self.optimizer_g = self._lazy_reg_optimizer(self.net_g, train_opt['optim_g'], self.net_g_reg_every)
        self.optimizer_d = self._lazy_reg_optimizer(self.net_d, train_opt['optim_d'], self.net_d_reg_every)
        self.optimizers.extend([self.optimizer_g, self.optimizer_d])

    # ------------------------------------------------------------------------------------------------------
    # data and generation
    # ------------------------------------------------------------------------------------------------------
    def feed_data(self, data):
        batch = self.family.prepare_batch(data, self.device, training=self.is_train)
        self.lq, self.inputs = batch['lq'], batch['inputs']
        if 'gt' in batch:
            self.gt = batch['gt']

    def _generate(self, net):
        """Run a generator on the current batch (scale-conditioned ones also get ``in_size``)."""
        return self.family.generate(net, self.inputs)

    # ------------------------------------------------------------------------------------------------------
    # training step
    # ------------------------------------------------------------------------------------------------------
    def optimize_parameters(self, current_iter):
        loss_dict = OrderedDict()

        # discriminator
        for p in self.net_d.parameters():
            p.requires_grad = True
        self.optimizer_d.zero_grad()
        self.output = self._generate(self.net_g)  # graph kept for the generator step
        fake_pred = self.net_d(self.output.detach())
        real_pred = self.net_d(self.gt)
        l_d = self.cri_gan(real_pred, True, is_disc=True) + self.cri_gan(fake_pred, False, is_disc=True)
        loss_dict['l_d'] = l_d
        loss_dict['out_d_real'] = real_pred.detach().mean()
        loss_dict['out_d_fake'] = fake_pred.detach().mean()
        l_d.backward()

        if self.r1_reg_weight > 0 and current_iter % self.net_d_reg_every == 0:
            l_d_r1 = lazy_r1_loss(self.net_d, self.gt, self.r1_reg_weight, self.net_d_reg_every)
            loss_dict['l_d_r1'] = l_d_r1.detach()
            l_d_r1.backward()
        self.optimizer_d.step()

        # generator
        for p in self.net_d.parameters():
            p.requires_grad = False
        self.optimizer_g.zero_grad()
        l_g_gan = self.cri_gan(self.net_d(self.output), True, is_disc=False)
        loss_dict['l_g_gan'] = l_g_gan
        l_g_total = l_g_gan
        if self.cri_pix is not None:
            l_g_pix = self.cri_pix(self.output, self.gt)
            loss_dict['l_g_pix'] = l_g_pix
            l_g_total = l_g_total + l_g_pix
        if self.cri_perceptual is not None:
            l_g_percep, l_g_style = self.cri_perceptual(self.output, self.gt)
            if l_g_percep is not None:
                loss_dict['l_g_percep'] = l_g_percep
                l_g_total = l_g_total + l_g_percep
            if l_g_style is not None:
                loss_dict['l_g_style'] = l_g_style
                l_g_total = l_g_total + l_g_style
        l_g_total.backward()
        self.optimizer_g.step()

        self.log_dict = self.reduce_loss_dict(loss_dict)
        if self.ema_decay > 0:
            self.model_ema(decay=self.ema_decay)

    # ------------------------------------------------------------------------------------------------------
    # inference, validation, saving
    # ------------------------------------------------------------------------------------------------------
    def test(self):
        net = self.net_g_ema if hasattr(self, 'net_g_ema') else self.net_g
        was_training = net.training
        net.eval()
        with torch.no_grad():
            self.output = self._generate(net)
        net.train(was_training)

    def get_current_visuals(self):
        """lq / result / gt mapped from [-1, 1] to [0, 1], the range SRModel's validation expects."""
        out_dict = OrderedDict(lq=self.lq, result=self.output)
        if hasattr(self, 'gt'):
            out_dict['gt'] = self.gt
        return OrderedDict((k, self.family.to_unit_range(v.detach().clamp(-1, 1)).cpu()) for k, v in out_dict.items())

    def nondist_validation(self, dataloader, current_iter, tb_logger, save_img):
        # SRModel saves training-time images per image name only: the same faces at ×8/×16/×32 would
        # overwrite each other, so each validation set gets its own sub-folder.
        path_opt = self.opt['path']
        visualization = path_opt.get('visualization')
        if visualization is not None and self.opt['is_train']:
            path_opt['visualization'] = osp.join(visualization, dataloader.dataset.opt['name'])
        try:
            super().nondist_validation(dataloader, current_iter, tb_logger, save_img)
        finally:
            if visualization is not None:
                path_opt['visualization'] = visualization

    def trained_networks(self):
        return [('d', 'net_d')]
