"""Does training a higher rate lift the top of the curve? (issue 21: the high-rate end.)

At quality 6 (lambda 0.0025) the default model's transforms are the limit, not the
quantiser: on the first four Kodak images, ``g_s`` of the unquantised ``y`` gives 33.06 dB
where the coded ``y_hat`` gives 32.30, so 84% of the squared error at that rate is there
without any quantisation (docs/RESULTS.md, "The campaign: the range of rates"). No level asks
the transforms for more. ``levels=7`` adds a seventh rate level, lambda 0.00125, to a
checkpoint of the campaign (``laplace_codec.training.rate_levels``: the old levels unchanged,
the new gains continuing the old ones' trend) and trains it to the step of the campaign's
own checkpoint there, the control (six levels), with the campaign's recipe otherwise:

    python -m laplace_codec.training.rate_levels --ckpt runs/keep/variable-long/checkpoints/50000 \\
        --lmbdas 0.08,0.04,0.02,0.01,0.005,0.0025,0.00125 --out runs/rate_range/levels=7
    python -m laplace_codec.training.sweep --sweep=configs/sweeps/rate_range.py \\
        --workdir=runs/rate_range
    laplace-codec export --ckpt runs/rate_range/levels=7 --name levels-7 \\
        --out runs/rate_range/export --eval '../shared/data/kodak/*.png'   # and the control

The comparison is at the six shared lambdas (qualities 1 to 6 of both), BD-rate against the
control, and the seventh level's point beside VTM. Measured: +0.4% against the control (the
old qualities move along the curve, not off it) and the ceiling 0.16 dB higher; the campaign
keeps six levels (docs/RESULTS.md, "The campaign: the range of rates").
"""

from configs.cpu import variable_long

BRANCH = 50_000  # the campaign checkpoint the branch starts from
END = 54_000     # the campaign checkpoint it is compared with
LMBDAS = (0.08, 0.04, 0.02, 0.01, 0.005, 0.0025, 0.00125)


def get_config():
    return variable_long.branch_config(END)


def get_hyper(h):
    del h
    return [{"config.name": "levels=7", "config.model.rate_lmbdas": LMBDAS}]
