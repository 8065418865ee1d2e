"""The fixed-rate diffusion models that shipped until version 0.5.6 (issue 8):
configs/cpu/diffusion.py decoders on top of the fixed-rate Laplacian MSE codecs of
configs/sweeps/zoo.py, at two lambdas.

    python -m laplace_codec.training.sweep --sweep=configs/sweeps/zoo_diffusion.py --workdir=runs/zoo
    laplace-codec export --ckpt runs/zoo/NAME --name NAME --out laplace_codec/weights \\
        --eval '../shared/data/kodak/*.png'

Each point starts from the bundled MSE codec of its lambda (``train.init_from`` names the
zoo model laplacian-mse-<lambda>, so its stored int8-expanded weights) and keeps its encoder,
entropy model and g_s frozen: the diffusion model writes exactly the bundled MSE model's bits
and only the image differs (LPIPS at the same bpp).

The MSE codecs named here left the zoo in version 0.5.0 (replaced by the variable-rate
ones), the diffusion models trained here in 0.5.6 (replaced by laplacian-diffusion-vr,
configs/cpu/variable_diffusion.py); a run that names one stops with the commands that
install it again beside the release (``zoo.RETIRED_NAMES``).
"""

from configs.cpu import diffusion

LAMBDAS = (0.01, 0.04)
DIFFUSION_STEPS = 1500  # as configs/sweeps/sigma_b.py; 1.6 s each here, about 40 min a point


def get_config():
    config = diffusion.get_config()
    config.train.freeze = "g_a,h_a,h_s,z_prior,y_model,g_s"
    config.train.num_steps = DIFFUSION_STEPS
    config.train.checkpoint_every = 250
    config.train.ema_decay = 0.99
    return config


def get_hyper(h):
    return [{"config.name": f"laplacian-diffusion-{lmbda}", "config.loss.lmbda": lmbda,
             "config.train.init_from": f"laplacian-mse-{lmbda}"}
            for lmbda in LAMBDAS]
