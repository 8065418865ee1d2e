"""One variable-rate diffusion decoder for every rate (issue 22): the decoder of
configs/cpu/diffusion.py trained on the frozen variable-rate codec ``laplacian-mse-vr``
(encoder, gain units, entropy model and the MSE synthesis whose pyramid conditions the
decoder all keep their weights), each training image at its own random quality, so that
one decoder sees every rate:

    python train.py --config=configs/cpu/variable_diffusion.py --workdir=runs/variable-diffusion
    laplace-codec export --ckpt runs/variable-diffusion --name laplacian-diffusion-vr \\
        --out laplace_codec/weights --eval '../shared/data/kodak/*.png'

``--config.loss.eps_weight_cap=50`` trains with the per-frequency truncated-SNR weighting of
the eps loss (blur_diffusion.eps_loss_weight) instead of the plain eps-MSE of eq. 11: the
remedy docs/RESULTS.md ("Why more sampling steps hurt") proposes; compare the two with
benchmarks/diffusion_conditioning.py (x0_hat against the zeroed U-Net at every t) and on
Kodak LPIPS at 5, 10, 25 and 50 steps before the long run. Expected to beat the MSE decoder
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
