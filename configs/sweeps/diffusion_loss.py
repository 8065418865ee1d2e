"""Which loss trains the variable-rate diffusion decoder faster (issue 22, "find out why more
sampling steps hurt")? The plain eps-MSE of eq. 11, which the bundled decoders were trained
with, against the eps loss weighted per frequency by ``min(max(1, 1 / SNR), 50)``
(blur_diffusion.eps_loss_weight: the x0 error where the noise dominates, the remedy that
docs/RESULTS.md, "Why more sampling steps hurt", proposes). Both points train the decoder of
configs/cpu/variable_diffusion.py on the same frozen codec (``laplacian-mse-vr``) for the same
steps with the same data, with an EMA of about the last 200 steps:

    python -m laplace_codec.training.sweep --sweep=configs/sweeps/diffusion_loss.py \\
        --workdir=runs/diffusion_loss   # or --only cap=0.0 and --only cap=50.0, both at once
    python benchmarks/diffusion_conditioning.py --crop 256 --limit 4 \\
        --ckpt runs/diffusion_loss/eps_weight_cap=50.0 \\
        --runs ddim:5,ddim:10,ddim:25,ddim:50,ancestral:10    # and eps_weight_cap=0.0

The better loss has x0_hat at t >= 0.2 no worse than the MSE image, and LPIPS that does not
rise from 5 to 50 DDIM steps; the long run (configs/cpu/variable_diffusion.py) takes it.
Not run: the cheaper configs/sweeps/diffusion_loss_repair.py showed the capped weight no
better than the plain loss (docs/RESULTS.md), and each point here costs 2000 steps of 1.7-4.8
s (by machine).
"""

from configs.cpu import variable_diffusion


def get_config():
    config = variable_diffusion.get_config()
    config.train.num_steps = 2_000
    config.train.ema_decay = 0.995
    config.optim.decay_start = 1.0
    config.loss.unet_target = False  # the two eps losses compared here
    return config


def get_hyper(h):
    return h.sweep("config.loss.eps_weight_cap", [0.0, 50.0])
