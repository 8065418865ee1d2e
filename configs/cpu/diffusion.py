"""CPU-sized diffusion codec: the entropy model and encoder of configs/cpu/laplacian.py with a
small conditional blurring-diffusion decoder (U-Net base width 32, levels 32/64/96/128,
linear attention at H/8; sigma_B_max = 25), EMA of the weights, LPIPS (AlexNet) weight 0.9.

    python train.py --config=configs/cpu/diffusion.py --workdir=runs/cpu-diffusion \\
        --config.train.init_from=runs/cpu-laplacian

Two stages: ``train.init_from`` starts the encoder and entropy model from a trained MSE codec
of the same sizes (configs/cpu/laplacian.py at the same lmbda; its decoder is not used), so
the CPU's steps go to the decoder; or, without one, a warm-up run at a tiny lmbda
(``--config.loss.lmbda=0.0001``) then the target lmbda from it. Decoding defaults to 10
deterministic (DDIM, eta = 0) steps: on Kodak laplacian-diffusion-0.01 (this config at lambda
0.01, configs/sweeps/zoo_diffusion.py; in the zoo until version 0.5.6) had lower LPIPS and
higher PSNR at 10 steps than at 25 (0.3062 / 26.91 dB against 0.3315 / 26.42 dB,
docs/RESULTS.md) in 40% of the time; ``laplace-codec compress --steps 500 --sampler
ancestral`` gives the paper's sampler. Throughput: benchmarks/train_throughput.py.
"""

from configs import diffusion
from configs.cpu import laplacian


def use_cpu_diffusion_decoder(config):
    """The diffusion decoder and loss of configs/diffusion.py at this CPU's sizes."""
    config = diffusion.use_diffusion_decoder(config)
    config.model.diffusion.update(width=32, multipliers=(1, 2, 3, 4), res_blocks=1,
                                  attention_levels=(3,), heads=4, head_dim=32, steps=10,
                                  sampler="ddim")
    return config


def get_config():
    config = use_cpu_diffusion_decoder(laplacian.get_config())
    config.name = "cpu-diffusion"
    return config
