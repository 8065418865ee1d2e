"""Does a wider transform pay for its slower step? (issue 21: the high-rate end of the
default model's curve is where it loses, and the dead channels and a wider rate range were
not the cause, docs/RESULTS.md, "The campaign: the range of rates" and "reviving the dead
latent channels", which left capacity or training.)

One point branches from a checkpoint of the campaign (configs/cpu/variable_long.py, N = 96)
with its analysis and synthesis transforms widened to N = 128 (``train.widen``,
laplace_codec/training/widen.py: the widened model computes what the checkpoint did, and the
32 new channels of every layer start with zero weights into the old ones), while h_a, h_s, z
(``model.N_hyper`` = 96), y and the entropy model keep their weights; fresh Adam moments and
EMA; the campaign's constant learning rate. Its step costs about 1.5 times the campaign's
(``benchmarks/train_throughput.py --config configs/cpu/variable_long.py --set model.N=128``:
0.75-0.79 s against 0.50-0.52 s on the 2-core AVX-512 machine), so the control is the
campaign at equal CPU time, not equal steps: the two run side by side, each pinned to a core
of its own, and each checkpoint of the branch is compared with the campaign's checkpoint of
the same moment (both exported with Kodak):

    mkdir -p runs/keep/variable-long/checkpoints
    cp -r runs/variable-long/checkpoints/4000 runs/keep/variable-long/checkpoints/
    taskset -c 1 python train.py --config=configs/cpu/variable_long.py \\
        --workdir=runs/variable-long ...          # the campaign, resumed on core 1
    taskset -c 0 python -m laplace_codec.training.sweep --sweep=configs/sweeps/widen.py \\
        --workdir=runs/widen
    laplace-codec export --ckpt runs/widen/N=128 --name widen-128 --out runs/widen/export \\
        --eval '../shared/data/kodak/*.png' --precision float16

The answer is in docs/RESULTS.md ("The campaign: a wider transform"): not in a session. After
3840 s of a core each, the branch (2983 steps) was 0.30% behind the campaign (4720 steps) in
Kodak BD-rate, having hardly begun to use its new channels; it was stopped.
"""

from configs.cpu import variable_long

BRANCH = 4_000  # the campaign's checkpoint (its stage's steps) that the branch widens
STEPS_BEFORE = "12000+9000+86000+4000"  # the bundled seventh export's steps, then BRANCH


def get_config():
    config = variable_long.branch_config(100_000)
    config.model.N = 128
    config.model.N_hyper = 96
    config.train.init_from = f"runs/keep/variable-long/checkpoints/{BRANCH}"
    config.train.init_from_steps = STEPS_BEFORE
    config.train.widen = True
    return config


def get_hyper(h):
    del h
    return [{"config.name": "N=128"}]
