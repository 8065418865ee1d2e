"""The variable-rate Laplacian MSE model on this CPU (issue 21): configs/cpu/laplacian.py
with gain units for six rate levels, lambda 0.08 down to 0.0025 (qualities 1 to 6; lambda
0.01, the fixed-rate default, is quality 4). Every training image draws its own quality, so
every step trains every rate.

It starts from the fixed-rate ``laplacian-mse-0.01`` (12000 steps) and trains 9000 more
steps: 21000 in all, the same as the four-model fixed-rate family it replaced (12000 +
3 x 3000). That model left the zoo in version 0.5.0: the run stops with the commands that
install it again beside the release (or train it: configs/sweeps/zoo.py).

    python train.py --config=configs/cpu/variable.py --workdir=runs/variable
    laplace-codec export --ckpt runs/variable --name laplacian-mse-vr --out laplace_codec/weights \\
        --eval '../shared/data/kodak/*.png'

Training reads the 49 large photographs and the 500 BSDS500 photographs (crops in proportion
to area): fine-tuning laplacian-mse-0.01 for 2000 steps on the mix gave a lower Kodak
loss than on the large photographs alone (5.5%) (docs/RESULTS.md, "Training data: BSDS500").
"""

from configs.cpu import laplacian


def get_config():
    config = laplacian.get_config()
    config.name = "laplacian-mse-vr"
    config.model.rate_lmbdas = (0.08, 0.04, 0.02, 0.01, 0.005, 0.0025)
    config.data.train_glob = "../shared/data/train,../shared/data/train-bsds500"
    config.train.init_from = "laplacian-mse-0.01"
    config.train.num_steps = 9_000
    return config
