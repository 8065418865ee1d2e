"""The paper's sizes (M = 256, N = 192, 256x256 crops, batch 8) and its entropy model: the
Laplacian-guided entropy model (uneven chunks, checkerboard local context, Swin global
context with window 8, 4 heads and the Laplacian position bias per chunk).

    python train.py --config=configs/base.py --workdir=runs/base \
        --config.data.train_glob='../shared/data/train/*.png'

Trains with Adam (1e-4 decaying to 1e-7, as in the paper) on ``D + lmbda * bpp`` where D is
the MSE of images in [-1, 1]; lmbda = 0.01 is the paper's ablation setting. Writes orbax
checkpoints with coding tables, and TensorBoard logs, to the workdir; resumes by itself.
About 1.6 s per step on the 2-core CPU, so it is sized for accelerators.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.name = "base"
    config.seed = 0

    config.model = ml_collections.ConfigDict()
    config.model.N = 192
    config.model.M = 256
    config.model.N_hyper = 0  # channels of h_a, h_s and z; 0: N (training/widen.py)
    config.model.res_blocks = 1
    config.model.entropy = "laplacian"
    # Options of each entropy model live under its name (model.<entropy>).
    config.model.laplacian = ml_collections.ConfigDict()
    config.model.laplacian.grouping = "uneven"  # or "even"
    config.model.laplacian.spatial = "local_global"  # or "none" (channel-only), "local"
    config.model.laplacian.position = "laplacian"  # or "none", "relative", "diamond"
    config.model.laplacian.window = 8
    config.model.laplacian.heads = 4
    config.model.laplacian.width = 192
    config.model.laplacian.attention_dim = 128
    config.model.decoder = "mse"  # or "diffusion" (configs/diffusion.py)
    # Variable rate (gain units, models/gain.py): the lambdas of the rate levels, largest
    # first; empty for a fixed-rate model trained at loss.lmbda (configs/cpu/variable.py).
    config.model.rate_lmbdas = ()

    config.data = ml_collections.ConfigDict()
    config.data.train_glob = ""  # empty: scikit-image's bundled photographs
    config.data.crop = 256
    config.data.batch_size = 8

    config.loss = ml_collections.ConfigDict()
    config.loss.lmbda = 0.01
    # Variable rate: each image's loss times (lmbda_ref / lmbda) ** quality_weight
    # (models/gain.py, loss_weight); 0 weights every rate alike in the units of eq. 8.
    config.loss.quality_weight = 0.0

    config.optim = ml_collections.ConfigDict()
    config.optim.learning_rate = 1e-4
    config.optim.final_learning_rate = 1e-7
    config.optim.decay_start = 0.8  # fraction of num_steps before the cosine decay begins
    config.optim.grad_clip = 1.0
    config.optim.max_nonfinite = 20  # steps with a non-finite loss or gradient, then stop

    config.mesh = ml_collections.ConfigDict()
    config.mesh.devices = 0  # devices on the "data" axis; 0: all

    config.train = ml_collections.ConfigDict()
    config.train.num_steps = 2_400_000
    config.train.log_every = 100
    config.train.checkpoint_every = 5000
    config.train.checkpoint_minutes = 10  # also a checkpoint every this many minutes (0: off)
    config.train.keep_checkpoints = 3
    config.train.shard_params = False  # FSDP: split large state arrays over the data axis
    config.train.ema_decay = 0.0  # > 0 keeps an EMA of the weights (used for evaluation)
    # A checkpoint folder or a bundled model's name whose same-named, same-shaped weights
    # start the run.
    config.train.init_from = ""
    # Widen init_from's g_a and g_s to this model's N, keeping what the model computes
    # (laplace_codec/training/widen.py; model.N_hyper = init_from's N).
    config.train.widen = False
    # The training steps behind init_from ("12000+9000"): set by training when the run starts
    # from a bundled model (its steps then, before a newer export may replace it under the same
    # name), kept on resume; an export adds the run's steps to it.
    config.train.init_from_steps = ""
    config.train.freeze = ""  # comma-separated modules that keep their weights, e.g. "g_a,h_a"

    config.eval = ml_collections.ConfigDict()
    config.eval.glob = ""  # held-out images for periodic evaluation; empty: none
    config.eval.every = 5000
    config.eval.crop = 256
    config.eval.max_images = 4
    return config
