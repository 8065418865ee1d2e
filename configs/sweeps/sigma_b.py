"""Table 1a at CPU scale: the maximum blur sigma_B_max of the diffusion decoder, one lambda.

    python -m laplace_codec.sweep --sweep=configs/sweeps/sigma_b.py --workdir=runs/sigma_b

Every point trains the decoder phi of configs/cpu/diffusion.py for the same number of steps
on top of one trained MSE codec (``MSE_CODEC``: the hyperprior point of the Table 2 sweep,
configs/sweeps/context.py, lambda = 0.01), whose encoder, entropy model and g_s stay frozen,
so every point codes the same bits and only the decoder differs. Then evaluate each folder:

    python evaluate.py --ckpt runs/sigma_b/<point> --data '../shared/data/kodak/*.png'

The paper (lambda = 0.01): FID falls as sigma_B_max rises from 0 to 25 (Table 1a).
"""

from configs.cpu import diffusion

MSE_CODEC = "runs/ablation/entropy=hyperprior"
DIFFUSION_STEPS = 1500  # equal for every point; what this CPU affords for four points


def get_config():
    config = diffusion.get_config()
    config.model.entropy = "hyperprior"  # the entropy model of MSE_CODEC
    config.train.init_from = MSE_CODEC
    config.train.freeze = "g_a,h_a,h_s,z_prior,y_model,g_s"
    config.train.num_steps = DIFFUSION_STEPS
    config.train.checkpoint_every = 250
    config.train.ema_decay = 0.99  # 0.999 would still average in the first steps at 1500
    config.train.log_every = 100
    return config


def get_hyper(h):
    return h.sweep("config.model.diffusion.sigma_b_max", [25.0, 0.0, 5.0, 15.0])
