"""Encode and decode time of one 768x512 image on this machine, compile excluded.

    python benchmarks/codec_speed.py --ckpt runs/test            # a trained checkpoint
    python benchmarks/codec_speed.py --config configs/base.py    # paper sizes, random weights

Splits each direction into network time (transforms, hyperprior, entropy parameters) and
range-coding time; reports the median of ``--repeats`` runs after one warm-up run. The image
is kodim01 from ../shared/data/kodak when present, else a bundled photograph tiled to
768x512. The last line is JSON: {"encode_s", "decode_s", "coding_s", ...}, where coding_s is
the range-coding time of encode plus decode.
"""

import argparse
import json
import os
import statistics
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from laplace_codec import api  # noqa: E402
from laplace_codec.coding import codec as codec_lib  # noqa: E402
from laplace_codec.coding import tables  # noqa: E402
from laplace_codec.training import config_files  # noqa: E402
from laplace_codec import images  # noqa: E402

KODIM01 = os.path.join(REPO, "..", "shared", "data", "kodak", "kodim01.png")


def codec_from_config(path: str, overrides: dict | None = None) -> codec_lib.Codec:
    """A codec with random weights (and tables built from them) for a config file."""
    import jax

    from laplace_codec.models import model as model_lib
    from laplace_codec.training import loop as training

    config = config_files.load_config(path, overrides or {})
    model = model_lib.from_config(config.model)
    state = training.init_state(model, config, jax.random.PRNGKey(0))
    params = jax.device_get(state["params"])
    return codec_lib.Codec(model, params, tables.tables_for(model, params),
                           f"{config.name}-random")



def test_image() -> np.ndarray:
    if os.path.exists(KODIM01):
        return images.read_image(KODIM01)
    photo = images.read_image("sample:astronaut")
    return np.ascontiguousarray(np.tile(photo, (1, 2, 1))[:512, :768])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", help="trained checkpoint (workdir or step)")
    parser.add_argument("--config", default=os.path.join(REPO, "configs", "base.py"))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    codec = api.load(args.ckpt) if args.ckpt else codec_from_config(args.config)
    x = test_image()
    codec.decode(codec.encode(x).data)  # compile
    runs = []
    for _ in range(args.repeats):
        enc = codec.encode(x)
        dec = codec.decode(enc.data)
        runs.append(dict(encode_network_s=enc.network_s, encode_coding_s=enc.coding_s,
                         decode_network_s=dec.network_s, decode_coding_s=dec.coding_s,
                         encode_s=enc.network_s + enc.coding_s,
                         decode_s=dec.network_s + dec.coding_s,
                         coding_s=enc.coding_s + dec.coding_s))
    med = {k: round(statistics.median(r[k] for r in runs), 4) for k in runs[0]}
    pixels = x.shape[0] * x.shape[1]
    print(f"model {codec.model_id} (N={codec.model.N}, M={codec.model.M}), image "
          f"{x.shape[1]}x{x.shape[0]}, {8 * len(enc.data) / pixels:.4f} bpp, median of "
          f"{args.repeats}")
    for k, v in med.items():
        print(f"  {k:>18}: {v:.4f} s")
    print(json.dumps(dict(encode_s=med["encode_s"], decode_s=med["decode_s"],
                          coding_s=med["coding_s"], **{k: v for k, v in med.items()
                                                      if k not in ("encode_s", "decode_s",
                                                                   "coding_s")},
                          model=codec.model_id)))


if __name__ == "__main__":
    main()
