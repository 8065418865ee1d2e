"""Which rates should a variable-rate model's loss weight most? (issue 21: the high-rate end
of the default model's curve is its weakness, benchmarks/equal_bytes.py.)

Each training image draws its quality uniformly and contributes ``D + lmbda R`` (eq. 8) to
the mean loss; in those units a quality-1 image's loss is about four times a quality-6
image's, so the low rates pull hardest on the shared weights. ``loss.quality_weight`` = p
multiplies each image's loss by ``(lmbda_ref / lmbda) ** p`` (``gain.loss_weight``): p = 1
is the units of bits (``R + D / lmbda``, as Cui et al. and CompressAI train), p = 0.5 halfway.

Both points branch from one checkpoint of the campaign (configs/cpu/variable_long.py,
``runs/variable-long``: weights, optimiser state, EMA and data position) and train to the
step of the campaign's own checkpoint there, which is the control (p = 0):

    for p in 0.5 1.0; do mkdir -p runs/quality_weight/quality_weight=$p/checkpoints
      cp -r runs/variable-long/checkpoints/28641 runs/quality_weight/quality_weight=$p/checkpoints/
    done
    python -m laplace_codec.training.sweep --sweep=configs/sweeps/quality_weight.py \\
        --workdir=runs/quality_weight --only 'quality_weight=0.5'   # and =1.0, at once
    laplace-codec export --ckpt runs/quality_weight/quality_weight=0.5 --name qw-0.5 \\
        --out runs/quality_weight/export --eval '../shared/data/kodak/*.png'   # and the control

The answer is in docs/RESULTS.md ("The campaign: which rates the loss weights"): neither
helps (BD-rate +0.4% with p = 0.5, +2.2% with p = 1, against the control); each moves the
qualities along the curve, toward more bits, not off it. The campaign keeps p = 0.
(Checkpoint 28641 has since been pruned from runs/variable-long; branch from a later one.)
"""

from configs.cpu import variable_long

BRANCH = 28_641  # the campaign checkpoint both points start from
END = 32_000     # the campaign checkpoint they are compared with


def get_config():
    return variable_long.branch_config(END)


def get_hyper(h):
    return h.sweep("config.loss.quality_weight", [0.5, 1.0])
