"""One variable-rate diffusion decoder for every rate (issue 22): the decoder of
configs/cpu/diffusion.py trained on the frozen variable-rate codec ``laplacian-mse-vr``
(encoder, gain units, entropy model and the MSE synthesis whose pyramid conditions the
decoder all keep their weights), each training image at its own random quality, so that
one decoder sees every rate:

    python train.py --config=configs/cpu/variable_diffusion.py --workdir=runs/variable-diffusion
    laplace-codec export --ckpt runs/variable-diffusion --name laplacian-diffusion-vr \\
        --out laplace_codec/weights --eval '../shared/data/kodak/*.png'

Which loss: the plain eps-MSE of eq. 11 (the default, the bundled decoders' loss) lets the
U-Net's output at blurred frequencies drift, which lands in x0_hat as noise; a capped SNR
weighting (``--config.loss.eps_weight_cap=50``) does not repair that, and
``--config.loss.unet_target=True`` (the U-Net's own output against ``unet.unet_target``) is
the candidate (docs/RESULTS.md, "Does a capped SNR weighting repair the eps loss?"; gate it
with configs/sweeps/diffusion_loss_repair.py before the long run). Expected to beat the MSE decoder
on LPIPS and KID at every quality (issue 22's target) after enough steps; not yet trained.
"""

from configs.cpu import diffusion, variable


def get_config():
    config = diffusion.use_cpu_diffusion_decoder(variable.get_config())
    config.name = "laplacian-diffusion-vr"
    config.train.init_from = "laplacian-mse-vr"
    config.train.freeze = "g_a,h_a,h_s,z_prior,y_model,g_s,y_gain,z_gain"
    config.train.num_steps = 60_000
    config.train.checkpoint_every = 2000
    config.optim.learning_rate = 2e-4
    config.optim.decay_start = 0.8
    return config
