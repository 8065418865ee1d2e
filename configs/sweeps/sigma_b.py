"""Table 1a at CPU scale: the maximum blur sigma_B_max of the diffusion decoder, one lambda.

    python -m laplace_codec.sweep --sweep=configs/sweeps/sigma_b.py --workdir=runs/sigma_b

Every point trains the decoder phi of configs/cpu/diffusion.py for the same number of steps
on top of one trained MSE codec (``MSE_CODEC``: the Table 1b point without position encoding,
configs/sweeps/pe.py, lambda = 0.01), whose encoder, entropy model and g_s stay frozen,
so every point codes the same bits and only the decoder differs. Then evaluate each folder:

    python evaluate.py --ckpt runs/sigma_b/<point> --data '../shared/data/kodak/*.png' \
        --steps 10 --fid --out runs/sigma_b/<point>.json

The points 0 and 25 are the decoders of issue 4 (docs/RESULTS.md, "Diffusion decoder against
the MSE decoder"), trained with the same settings: ``cp -r runs/diffusion/sigma_b_max=0.0
runs/sigma_b/`` (and 25.0) and the sweep finds them finished.

The paper (lambda = 0.01): FID falls as sigma_B_max rises from 0 to 25 (Table 1a).
"""

from configs.cpu import diffusion

MSE_CODEC = "runs/ablation/entropy=laplacian,spatial=local_global,position=none"
DIFFUSION_STEPS = 750  # equal for every point; 1.6 s each here, so about 20 min a point


def get_config():
    config = diffusion.get_config()
    config.model.laplacian.position = "none"  # the entropy model of MSE_CODEC
    config.train.init_from = MSE_CODEC
    config.train.freeze = "g_a,h_a,h_s,z_prior,y_model,g_s"
    config.train.num_steps = DIFFUSION_STEPS
    config.train.checkpoint_every = 250
    config.train.ema_decay = 0.99  # 0.999 would still average in the first steps at 750
    config.train.log_every = 50
    return config


def get_hyper(h):
    return h.sweep("config.model.diffusion.sigma_b_max", [25.0, 0.0, 5.0, 15.0])
