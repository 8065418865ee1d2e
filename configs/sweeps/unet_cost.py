"""Does a U-Net of 0.42x the FLOPs train a better variable-rate diffusion decoder per CPU-hour
(issue 22)? The bundled decoders' U-Net (configs/cpu/diffusion.py: levels 32/64/96/128, the
condition features and skips concatenated, 3x3 sub-pixel upsampling: 168 GFLOP per 768x512
evaluation) against the cheap wiring (``unet.CHEAP``: levels 16/64/96/128, the condition
features projected and added, skips added, 1x1 sub-pixel upsampling: 71 GFLOP), each for the
same training time on the same frozen codec and data, with the rest of
configs/cpu/variable_diffusion.py (which now holds the cheap wiring). On the AVX2 machine
of 2026-12-06 a training step took 4.36 s against 2.33 s (``python
benchmarks/train_throughput.py --config configs/cpu/variable_diffusion.py --steps 5`` with
``--set`` the bundled wiring, then without; campaign paused), so the cheap point gets 1.87
times the steps:

    for p in bundled:0 cheap:1; do taskset -c ${p#*:} python -m laplace_codec.training.sweep \\
        --sweep=configs/sweeps/unet_cost.py --workdir=runs/unet_cost --only unet=${p%:*} & done
        # the two points side by side, each pinned to a core: about 2 hours here
    python benchmarks/diffusion_conditioning.py --ckpt runs/unet_cost/unet=cheap \\
        --quality 2,4,6 --crop 256 --limit 8 --runs ddim:5,ddim:10,ddim:25   # and unet=bundled

The long run (configs/cpu/variable_diffusion.py) takes the cheap wiring if its LPIPS at 10
DDIM steps is no worse at qualities 2, 4 and 6; it also decodes a 768x512 image in 0.59x the
time (``python benchmarks/diffusion_decode.py --steps 10 --samplers ddim``: 43.6 s against
25.8 s untrained, on that machine). Run there: 800 steps in 8851 s against 1497 in 8860 s,
and at 10 DDIM steps LPIPS 0.2172 / 0.1435 / 0.1176 against 0.2087 / 0.1332 / 0.1073 at
qualities 2 / 4 / 6 (docs/RESULTS.md, "What a sampling step costs"), so the long run took the
cheap wiring.
"""

from configs.cpu import diffusion as cpu_diffusion
from configs.cpu import variable_diffusion

BUNDLED_STEPS = 800  # about 58 minutes at 4.36 s per step
# The bundled decoders' U-Net, where variable_diffusion.py's differs.
_bundled = cpu_diffusion.get_config().model.diffusion
BUNDLED = {f"config.model.diffusion.{k}": _bundled[k] for k in variable_diffusion.CHEAP_UNET}


def get_config():
    config = variable_diffusion.get_config()
    config.train.num_steps = BUNDLED_STEPS
    config.train.checkpoint_every = 200  # about 15 minutes: the A/B spans sessions
    config.train.ema_decay = 0.995
    config.optim.decay_start = 1.0
    return config


def get_hyper(h):
    return h.chainit([
        h.product([h.fixed("config.name", "unet=bundled")]
                  + [h.fixed(k, v) for k, v in BUNDLED.items()]),
        h.product([h.fixed("config.name", "unet=cheap"),
                   h.fixed("config.train.num_steps", round(BUNDLED_STEPS * 4.36 / 2.33))]),
    ])
