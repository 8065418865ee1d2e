"""Which latent channels of a model carry its bits: the share of y's estimated bits per
channel on Kodak, at several qualities, and the channels that carry (almost) none.

    python benchmarks/latent_channels.py [--model laplacian-mse-vr] [--quality 1,4,6] \
        [--images 4]

A channel is counted as dead when its share of the bits is under 1/100 of a uniform share
(``--dead``); dead channels are capacity that training stopped using (the analysis transform
sends them to zero and the rate keeps them there). Bits are ``-log2`` of the model's
likelihoods of y_hat (the estimate that real files match within about 1%). The last line is
JSON: {"QUALITY": {"bpp", "channels_90", "channels_99", "dead"}}.
"""

import argparse
import json
import os
import sys

import jax.numpy as jnp
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from benchmarks import kodak_model  # noqa: E402
from laplace_codec.models import model as model_lib  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    kodak_model.add_flags(parser)
    parser.add_argument("--dead", type=float, default=0.01,
                        help="dead below this fraction of a uniform share")
    args = parser.parse_args()
    codec, qualities, pictures = kodak_model.load(args)
    results = {}
    for q in qualities:
        bits, pixels = 0.0, 0
        for x in pictures:
            pixels += x.shape[0] * x.shape[1]
            out = codec.model.apply(codec.params, model_lib.from_uint8(jnp.asarray(x[None])),
                                    False, None if q is None else jnp.float32(q))
            bits = bits + -np.log2(np.asarray(out["y_likelihood"], np.float64)).sum((0, 1, 2))
        share = bits / bits.sum()
        cumulative = np.cumsum(np.sort(share)[::-1])
        dead = np.flatnonzero(share < args.dead / share.size).tolist()
        results[str(q)] = dict(bpp=float(bits.sum() / pixels),
                               channels_90=int(np.searchsorted(cumulative, 0.90)) + 1,
                               channels_99=int(np.searchsorted(cumulative, 0.99)) + 1,
                               dead=dead)
        r = results[str(q)]
        print(f"quality {q}: {r['bpp']:.4f} bpp of y; {r['channels_90']} of {share.size} "
              f"channels carry 90% of the bits, {r['channels_99']} carry 99%; {len(dead)} dead: "
              f"{dead}", flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
