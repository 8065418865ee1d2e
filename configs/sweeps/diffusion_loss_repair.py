"""Which weighting of the eps loss repairs what the plain eps-MSE breaks
(issue 22, "find out why more sampling steps hurt")? The cheap form of
configs/sweeps/diffusion_loss.py: instead of two decoders from scratch, the zoo model
``laplacian-diffusion-0.01`` (1500 steps of plain eps-MSE, whose x0_hat at t >= 0.2 is about
3 dB *worse* than its own MSE image: docs/RESULTS.md, "Why more sampling steps hurt")
continues for 250 steps under each loss (plain, capped SNR weight, the U-Net's own target:
``loss.unet_target``), codec frozen, at a constant learning rate:

    python -m laplace_codec.training.sweep --sweep=configs/sweeps/diffusion_loss_repair.py \\
        --workdir=runs/diffusion_loss_repair      # or --only one point at a time
    python benchmarks/diffusion_conditioning.py --crop 256 --limit 4 --t 0.1,0.2,0.5 \\
        --ckpt runs/diffusion_loss_repair/eps_weight_cap=50.0 \\
        --runs ddim:5,ddim:10,ddim:25,ddim:50        # and the other points

The plain loss (cap 0) is the control at equal steps. A loss repairs the decoder if its
x0_hat at t >= 0.2 climbs back to the MSE image's PSNR while the control's does not, and its
LPIPS stops rising from 5 to 50 DDIM steps. Measured: the capped weight does not
and unet_target=True does (docs/RESULTS.md, "Does a capped SNR weighting repair the eps
loss?").

``laplacian-diffusion-0.01`` left the zoo in version 0.5.6 (replaced by
laplacian-diffusion-vr); the sweep still starts from it, so install it beside the release
first: a run without it stops with the shell commands that copy its two files from the last
commit that shipped it (3106a9c, ``zoo.RETIRED_NAMES``) into a folder that
``$LAPLACE_CODEC_MODELS`` then names.
"""

from configs.sweeps import zoo_diffusion


def get_config():
    config = zoo_diffusion.get_config()
    config.name = "diffusion-loss-repair"
    config.loss.lmbda = 0.01
    config.train.init_from = "laplacian-diffusion-0.01"
    config.train.num_steps = 250
    config.train.checkpoint_every = 125
    config.train.ema_decay = 0.95  # about the last 20 steps: the checkpoint reflects the loss
    config.train.log_every = 25
    config.optim.learning_rate = 1e-4
    config.optim.decay_start = 1.0
    return config


def get_hyper(h):
    return [{"config.loss.eps_weight_cap": 0.0}, {"config.loss.eps_weight_cap": 50.0},
            {"config.loss.unet_target": True}]
