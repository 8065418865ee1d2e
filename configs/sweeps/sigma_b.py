"""Table 1a at CPU scale: the maximum blur sigma_B_max of the diffusion decoder, one lambda.

    python -m laplace_codec.training.sweep --sweep=configs/sweeps/sigma_b.py --workdir=runs/sigma_b

Every point trains the decoder phi exactly as the fixed-rate diffusion models were trained
(configs/sweeps/zoo_diffusion.py: configs/cpu/diffusion.py, 1500 steps, EMA 0.99) on top
of one codec, the zoo model ``MSE_CODEC`` (lambda = 0.01), whose encoder, entropy model and
g_s stay frozen: every point codes the same bits and only the decoder differs. The point
sigma_B_max = 25 is laplacian-diffusion-0.01 (zoo_diffusion.py's lambda = 0.01 point); copy
its training folder and the sweep finds it finished:

    cp -r runs/zoo/laplacian-diffusion-0.01 'runs/sigma_b/sigma_b_max=25.0'

Then evaluate each folder (10 deterministic DDIM steps; FID with the test extra):

    python evaluate.py --ckpt runs/sigma_b/<point> --data '../shared/data/kodak/*.png' \\
        --steps 10 --fid --out runs/sigma_b/<point>.json

The paper (lambda = 0.01): FID falls as sigma_B_max rises from 0 to 25 (Table 1a).

``MSE_CODEC`` left the zoo in version 0.5.0 (replaced by the variable-rate models): a run
stops with the commands that install it again beside the release (``zoo.RETIRED_NAMES``).
laplacian-diffusion-0.01 left it in 0.5.6 (replaced by laplacian-diffusion-vr).
"""

from configs.sweeps import zoo_diffusion

MSE_CODEC = "laplacian-mse-0.01"  # a zoo model (train.init_from takes zoo names)


def get_config():
    config = zoo_diffusion.get_config()
    config.loss.lmbda = 0.01
    config.train.init_from = MSE_CODEC
    config.train.log_every = 50
    return config


def get_hyper(h):
    return h.sweep("config.model.diffusion.sigma_b_max", [25.0, 0.0, 5.0, 15.0])
