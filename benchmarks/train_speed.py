"""Training-step speed of a config on this machine: compile time and steps per second.

    python benchmarks/train_speed.py --config configs/cpu/laplacian.py [--steps 20]

Uses random uint8 batches of the config's crop and batch size (the input pipeline is not
timed). The last line is JSON: {"config", "compile_s", "step_s", "images_per_s"}.
"""

import argparse
import importlib.util
import json
import os
import sys
import time

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from laplace_codec import model as model_lib  # noqa: E402
from laplace_codec import training  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("overrides", nargs="*", help="key=value config overrides")
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("bench_config", args.config)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.get_config()
    for item in args.overrides:
        key, value = item.split("=", 1)
        target = config
        *path, last = key.split(".")
        for p in path:
            target = target[p]
        target[last] = type(target[last])(value)
    model = model_lib.from_config(config.model)
    mesh = training.make_mesh()
    step, sharding = training.make_train_step(model, config, mesh)
    state = training.init_state(model, config, jax.random.PRNGKey(0))
    # As in training: committed, replicated state, or the second call compiles again.
    state = jax.device_put(state, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()))
    rng = np.random.default_rng(0)
    shape = (config.data.batch_size, config.data.crop, config.data.crop, 3)
    batch = jax.device_put(rng.integers(0, 256, shape, dtype=np.uint8), sharding)
    t0 = time.perf_counter()
    state, metrics = step(state, batch)
    jax.block_until_ready(metrics)
    compile_s = time.perf_counter() - t0
    state, metrics = step(state, batch)  # must not compile again
    jax.block_until_ready(metrics)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        state, metrics = step(state, batch)
    jax.block_until_ready(metrics)
    step_s = (time.perf_counter() - t0) / args.steps
    print(f"{config.name}: compile {compile_s:.1f} s, {step_s:.3f} s/step, "
          f"{config.data.batch_size / step_s:.1f} images/s ({shape})")
    print(json.dumps(dict(config=config.name, compile_s=round(compile_s, 2),
                          step_s=round(step_s, 4),
                          images_per_s=round(config.data.batch_size / step_s, 2))))


if __name__ == "__main__":
    main()
