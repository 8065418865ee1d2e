"""Training throughput of the CPU-sized configs on this machine, compile excluded.

    python benchmarks/train_throughput.py [--config configs/cpu/laplacian.py ...] [--steps 20]

By default measures configs/cpu/hyperprior.py, configs/cpu/laplacian.py and
configs/cpu/diffusion.py. Random uint8 batches of each config's crop and batch
size (the input pipeline is not timed); the state is committed to the mesh as in training,
and a second untimed step checks that nothing compiles again. The last line is JSON:
{"<config name>": {"compile_s", "step_s", "images_per_s", "minor_faults_per_step"}, ...}
(the page faults of the timed steps: see laplace_codec/allocator.py).
"""

import argparse
import json
import os
import resource
import sys
import time

import jax
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from laplace_codec.models import model as model_lib  # noqa: E402
from laplace_codec.training import config_files  # noqa: E402
from laplace_codec.training import loop as training  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", nargs="+",
                        default=[os.path.join(REPO, "configs", "cpu", "hyperprior.py"),
                                 os.path.join(REPO, "configs", "cpu", "laplacian.py"),
                                 os.path.join(REPO, "configs", "cpu", "diffusion.py")])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--set", nargs="*", default=[], help="key=value config overrides")
    args = parser.parse_args()
    results = {}
    for path in args.config:
        name, figures = measure(path, args.steps, args.set)
        if name in results:  # two configs of one model name (recipes of one model)
            name = f"{name} ({path})"
        results[name] = figures
    print(json.dumps(results))


def training_step(path: str, overrides: list[str]):
    """(config, jitted step, initial state, a random uint8 batch) of the config at ``path``,
    placed as in training (also used by ``train_step_vs_compressai.py``)."""
    config = config_files.load_config(path, overrides)
    model = model_lib.from_config(config.model)
    mesh = training.make_mesh()
    step, sharding = training.make_train_step(model, config, mesh)
    state = training.init_state(model, config, jax.random.PRNGKey(0))
    # As in training: committed, replicated state, or the second call compiles again.
    state = jax.device_put(state, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()))
    rng = np.random.default_rng(0)
    shape = (config.data.batch_size, config.data.crop, config.data.crop, 3)
    batch = jax.device_put(rng.integers(0, 256, shape, dtype=np.uint8), sharding)
    return config, step, state, batch


def measure(path: str, steps: int, overrides: list[str]):
    config, step, state, batch = training_step(path, overrides)
    shape = batch.shape
    t0 = time.perf_counter()
    state, metrics = step(state, batch)
    jax.block_until_ready(metrics)
    compile_s = time.perf_counter() - t0
    state, metrics = step(state, batch)  # must not compile again
    jax.block_until_ready(metrics)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t0 = time.perf_counter()
    for _ in range(steps):
        state, metrics = step(state, batch)
    jax.block_until_ready(metrics)
    step_s = (time.perf_counter() - t0) / steps
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / steps
    print(f"{config.name}: compile {compile_s:.1f} s, {step_s:.3f} s/step, "
          f"{config.data.batch_size / step_s:.1f} images/s, {faults:.0f} page faults/step "
          f"({shape})", flush=True)
    return config.name, dict(compile_s=round(compile_s, 2), step_s=round(step_s, 4),
                             images_per_s=round(config.data.batch_size / step_s, 2),
                             minor_faults_per_step=round(faults))


if __name__ == "__main__":
    main()
