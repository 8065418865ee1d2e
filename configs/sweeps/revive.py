"""Do the dead latent channels come back to life, and pay, when revived? (issue 21: about 30
of the default model's 128 channels of y carry no bits at any rate, benchmarks/
latent_channels.py, and the high-rate end of its curve is its weakness.)

One point branches from the campaign's step-32000 checkpoint (configs/cpu/variable_long.py)
with the 30 channels dead at quality 6 revived (laplace_codec/training/revive.py: fresh
analysis filters, zero synthesis weights, a fixed entropy-model scale, reset Adam moments)
and trains to step 34000; the campaign's own checkpoint there is the control:

    python benchmarks/latent_channels.py --model runs/variable-long/checkpoints/32000 --quality 6
    python -m laplace_codec.training.revive --ckpt runs/variable-long/checkpoints/32000 \\
        --out runs/revive/revive=30 --channels 8,10,25,35,44,48,49,64,66,71,76,77,86,88,89,93,100,101,102,103,107,108,110,111,114,116,119,125,126,127
    python -m laplace_codec.training.sweep --sweep=configs/sweeps/revive.py --workdir=runs/revive
    laplace-codec export --ckpt runs/revive/revive=30/checkpoints/34000 --name revive-30 \\
        --out runs/revive/export --eval '../shared/data/kodak/*.png'

The answer is in docs/RESULTS.md ("The campaign: reviving the dead latent channels"): no. 2000
steps after the revival all 30 channels were dead again at quality 6, and the branch's Kodak
BD-rate was 1.0% worse than the campaign's at step 34000; the branch was stopped there.
"""

from configs.cpu import variable_long

BRANCH = 32_000  # the campaign checkpoint the point starts from
END = 34_000     # the campaign checkpoint it is compared with


def get_config():
    return variable_long.branch_config(END)


def get_hyper(h):
    del h
    return [{"config.name": "revive=30"}]
