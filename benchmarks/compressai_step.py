"""CompressAI's side of ``train_step_vs_compressai.py``: a worker that trains CompressAI's
mean-scale hyperprior (N = 96, M = 128) with this project's CPU recipe and times its steps.

Run by the benchmark with the Python of a venv that has CompressAI (never a dependency of
this project; ``../shared/DESIGN.md`` says how to install it here). It imports only
PyTorch and CompressAI, prints ``ready`` once warm, then answers each ``run N`` line on
stdin with the seconds that N steps took, and stops at end of input.

The recipe, as in CompressAI's ``examples/train.py``: loss ``lmbda * 255^2 * MSE + bpp``
on images in [0, 1] (the same as this project's ``MSE + lmbda' * bpp`` in [-1, 1] up to
scale), Adam 3e-4 on the network, Adam 1e-3 on the entropy bottleneck's quantiles (the
auxiliary loss), gradient clipping at norm 1.0, batches of 8 random 128x128 crops.
"""

import math
import sys
import time

import torch
from compressai.models import MeanScaleHyperprior


def main():
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
    torch.manual_seed(0)
    net = MeanScaleHyperprior(N=96, M=128)
    main_params = [p for n, p in net.named_parameters() if not n.endswith(".quantiles")]
    aux_params = [p for n, p in net.named_parameters() if n.endswith(".quantiles")]
    optimizer = torch.optim.Adam(main_params, lr=3e-4)
    aux_optimizer = torch.optim.Adam(aux_params, lr=1e-3)
    x = torch.rand(8, 3, 128, 128)
    lmbda = 0.01

    def step():
        optimizer.zero_grad()
        aux_optimizer.zero_grad()
        out = net(x)
        pixels = x.shape[0] * x.shape[2] * x.shape[3]
        bpp = sum(torch.log(v).sum() for v in out["likelihoods"].values()) / (-math.log(2) * pixels)
        loss = lmbda * 255 ** 2 * torch.mean((out["x_hat"] - x) ** 2) + bpp
        loss.backward()
        torch.nn.utils.clip_grad_norm_(main_params, 1.0)
        optimizer.step()
        aux_loss = net.aux_loss()
        aux_loss.backward()
        aux_optimizer.step()

    for _ in range(3):
        step()
    print("ready", flush=True)
    for line in sys.stdin:
        n = int(line.split()[1])
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        print(time.perf_counter() - t0, flush=True)


if __name__ == "__main__":
    main()
