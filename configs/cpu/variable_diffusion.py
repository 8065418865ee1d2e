"""One variable-rate diffusion decoder for every rate (issue 22): the decoder of
configs/cpu/diffusion.py with a cheaper U-Net (``CHEAP_UNET``), trained on the frozen
variable-rate codec ``laplacian-mse-vr`` (encoder, gain units, entropy model and the MSE
synthesis whose pyramid conditions the decoder all keep their weights), each training image
at its own random quality, so that one decoder sees every rate:

    python train.py --config=configs/cpu/variable_diffusion.py --workdir=runs/variable-diffusion
    laplace-codec export --ckpt runs/variable-diffusion --name laplacian-diffusion-vr \\
        --out laplace_codec/weights --eval '../shared/data/kodak/*.png' \\
        --family laplacian-diffusion-vr --precision float16

After 2000 steps its LPIPS on Kodak was 8-14% below the MSE decoder's at every quality, for
0.1-0.4 dB of PSNR (the bundled ``laplacian-diffusion-vr``, docs/RESULTS.md).
2000 more steps (restarted from that export) improved x0_hat but raised the samples' LPIPS
by 3-10%, and were not shipped (docs/RESULTS.md, "2000 more steps: x0_hat better, samples
worse"); 1500 more at 5e-5 neither (0.3-0.7% higher LPIPS on Kodak, "A quarter of the
learning rate: no better"): under this loss the run had met a plateau. With eq. 12's LPIPS
term unweighted (``loss.lpips_snr_cap = 0``, below), 2000 more steps from that export lowered
LPIPS on Kodak by 6-17% at every quality for 0.01-0.06 dB at 10 steps; at 5 steps (its
default) it has the MSE decoder's PSNR with 14-34% lower LPIPS: the bundled decoder since
2026-12-08 (docs/RESULTS.md, "LPIPS that reaches the samples").

Its loss: ``loss.unet_target`` (the U-Net's own output against ``unet.unet_target``). The
plain eps-MSE of eq. 11 (the bundled decoders') lets the U-Net's output at blurred
frequencies drift into x0_hat as noise, and a capped SNR weighting does not repair that;
250 steps of the U-Net's own target on the bundled decoder lifted x0_hat at t = 0.2 from 26.4
to 29.6 dB and LPIPS at 10 DDIM steps from 0.2891 to 0.2689 against the plain loss
(docs/RESULTS.md, "Does a capped SNR weighting repair the eps loss?"); it beats the
MSE decoder on LPIPS at every quality and on KID at every quality measured (issue 22's
target). Its first long run
(from the 1497 steps of configs/sweeps/unet_cost.py's cheap point) was lost with its machine;
the second started from scratch on 2026-12-07 on the eighth export of ``laplacian-mse-vr``
(``@ff0a35c4158beccc``), docs/RESULTS.md, "The variable-rate diffusion decoder's long run".
"""

from configs.cpu import diffusion, variable
from laplace_codec.models.decoders import unet

# The U-Net: unet.CHEAP's wiring with a top level 16 wide (levels 16/64/96/128), 0.42x the
# FLOPs of the bundled decoders' (configs/cpu/diffusion.py). Trained for the same time, it
# reached a lower LPIPS at 10 DDIM steps at qualities 2, 4 and 6 (configs/sweeps/unet_cost.py).
CHEAP_UNET = dict(width=16, multipliers=(1, 4, 6, 8), **unet.CHEAP)


def get_config():
    config = diffusion.use_cpu_diffusion_decoder(variable.get_config())
    config.name = "laplacian-diffusion-vr"
    config.model.diffusion.update(**CHEAP_UNET)
    # Sampling steps that do not clip x0_hat: the same LPIPS and PSNR without the colour cast
    # that clipping adds (docs/RESULTS.md, "What a sampling step costs").
    config.model.diffusion.clip_x0 = False
    # Samples at a third of the model's noise: with its own (temperature 1) an undertrained
    # U-Net's LPIPS rose from 10 to 50 DDIM steps; at 0.3 it falls with every added step
    # (docs/RESULTS.md, "Sampling temperature"). Decoding only; training does not read it.
    config.model.diffusion.temperature = 0.3
    # Each step's x0_hat takes its per-channel mean (the DCT's DC) from the MSE image: the
    # first export's samples were 0.21-0.26 levels green on Kodak; on 24 Kodak crops this
    # gave the MSE image's channel means at the same LPIPS and PSNR (docs/RESULTS.md,
    # "A colour cast in the image mean"). Decoding only; training does not read it.
    config.model.diffusion.dc_from_mse = True
    # 5 sampling steps by default: with the LPIPS term below, 5 DDIM steps gave the MSE
    # decoder's PSNR and 1.6-6.6% lower LPIPS than 10 on Kodak, in half the time (docs/RESULTS.md,
    # "LPIPS that reaches the samples"). Decoding only; files record their own steps.
    config.model.diffusion.steps = 5
    config.train.init_from = "laplacian-mse-vr"
    config.train.freeze = "g_a,h_a,h_s,z_prior,y_model,g_s,y_gain,z_gain"
    config.train.num_steps = 60_000
    config.train.checkpoint_every = 2000
    config.optim.learning_rate = 2e-4
    config.optim.decay_start = 0.8
    config.loss.unet_target = True
    # LPIPS(x, x0_hat) unweighted, as eq. 12 prints it. The SNR cap (configs/diffusion.py)
    # guards a bare U-Net, whose errors reach x0_hat multiplied by up to 1e3; preconditioned,
    # they reach it multiplied by at most prior_std (models/decoders/unet.py), and the cap
    # left the term a weight of about 1e-6. Unweighted, 1000 steps from the bundled decoder
    # lowered LPIPS at 10 DDIM steps by 8-14% on Kodak crops at the same PSNR (docs/RESULTS.md,
    # "LPIPS that reaches the samples").
    config.loss.lpips_snr_cap = 0.0
    return config
