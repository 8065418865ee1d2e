"""Training that scales and survives: sharded steps on 8 devices, FSDP, kill-and-resume,
and the non-finite guard."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from laplace_codec.training import checkpoint, loop as training
from tests.conftest import REPO, make_test_config

TINY = ["--config.model.N=8", "--config.model.M=16", "--config.data.crop=64",
        "--config.data.batch_size=2"]


def test_sharded_step_on_8_devices_equals_the_single_device_step():
    code = textwrap.dedent("""
        import json, jax, numpy as np
        from laplace_codec.training import data, loop as training
        from laplace_codec.models import model as model_lib
        from tests.conftest import make_test_config
        config = make_test_config()
        config.model.N, config.model.M = 8, 16
        config.data.crop, config.data.batch_size = 64, 8
        model = model_lib.from_config(config.model)
        batch = next(data.make_dataset(config.data, seed=0))
        results = {}
        for name, devices, shard in [("one", 1, False), ("eight", 8, False), ("fsdp", 8, True)]:
            mesh = training.make_mesh(devices)
            state = training.init_state(model, config, jax.random.PRNGKey(0))
            sharding = training.state_shardings(state, mesh, shard, min_size=64)
            step, batch_sharding = training.make_train_step(model, config, mesh, sharding)
            state = jax.device_put(state, sharding)
            for _ in range(2):
                state, metrics = step(state, jax.device_put(batch, batch_sharding))
            leaves = jax.tree_util.tree_leaves(jax.device_get(state["params"]))
            sharded = sum(len(x.sharding.device_set) > 1 and not x.sharding.is_fully_replicated
                          for x in jax.tree_util.tree_leaves(state["params"]))
            results[name] = dict(params=np.concatenate([np.ravel(x) for x in leaves]),
                                 metrics=jax.device_get(metrics), sharded=sharded,
                                 devices=mesh.size)
        one = results["one"]
        out = {}
        for name in ("eight", "fsdp"):
            r = results[name]
            out[name] = dict(
                devices=r["devices"], sharded=int(r["sharded"]),
                param_diff=float(np.max(np.abs(r["params"] - one["params"]))),
                param_scale=float(np.max(np.abs(one["params"]))),
                metric_diff={k: float(abs(r["metrics"][k] - one["metrics"][k]))
                             for k in ("loss", "bpp", "mse")})
        print(json.dumps(out))
    """)
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["eight"]["devices"] == 8 and out["eight"]["sharded"] == 0
    assert out["fsdp"]["sharded"] > 0  # FSDP really split some parameters
    for name in ("eight", "fsdp"):
        assert out[name]["param_diff"] <= 1e-5 * out[name]["param_scale"], out
        for key, diff in out[name]["metric_diff"].items():
            assert diff <= 1e-5, (name, key, out)


def _train_cmd(workdir, steps):
    return [sys.executable, str(REPO / "train.py"), "--config=configs/test.py",
            f"--workdir={workdir}", f"--config.train.num_steps={steps}",
            "--config.train.checkpoint_every=3", "--config.train.log_every=1", *TINY]


def _losses(workdir):
    records = [json.loads(line) for line in open(os.path.join(workdir, "metrics.jsonl"))]
    return {r["step"]: r["loss"] for r in records}  # a replayed step keeps its last record


def test_a_killed_run_resumes_with_the_same_losses(tmp_path):
    steps = 9
    straight = tmp_path / "straight"
    done = subprocess.run(_train_cmd(straight, steps), capture_output=True, text=True,
                          cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    reference = _losses(straight)
    assert sorted(reference) == list(range(1, steps + 1))

    killed = tmp_path / "killed"
    proc = subprocess.Popen(_train_cmd(killed, steps), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=REPO)
    deadline = time.time() + 600
    while not (killed / "checkpoints" / "3").is_dir():  # renamed into place when complete
        assert proc.poll() is None and time.time() < deadline, "run ended before step 3"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = subprocess.run(_train_cmd(killed, steps), capture_output=True, text=True,
                          cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resumed from step" in done.stdout
    resumed = _losses(killed)
    assert sorted(resumed) == list(range(1, steps + 1))
    assert resumed == reference  # bit-identical losses, killed or not


def test_a_nan_in_a_batch_leaves_the_state_unchanged_and_is_counted():
    import jax

    from laplace_codec.models import model as model_lib

    config = make_test_config()
    config.model.N, config.model.M = 8, 16
    config.data.crop, config.data.batch_size = 64, 2
    model = model_lib.from_config(config.model)
    mesh = training.make_mesh(1)
    step, sharding = training.make_train_step(model, config, mesh)
    state = training.init_state(model, config, jax.random.PRNGKey(0))
    batch = np.full((2, 64, 64, 3), 100.0, np.float32)
    batch[1, 5, 7, 2] = np.nan
    new, metrics = step(state, batch)
    assert int(metrics["skipped_steps"]) == 1
    for a, b in zip(jax.tree_util.tree_leaves(state["params"]),
                    jax.tree_util.tree_leaves(new["params"])):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    batch[1, 5, 7, 2] = 100.0
    new, metrics = step(new, batch)
    assert int(metrics["skipped_steps"]) == 1  # a finite batch trains again
    assert any(not np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(
        jax.tree_util.tree_leaves(state["params"]), jax.tree_util.tree_leaves(new["params"])))


def test_non_finite_steps_are_skipped_counted_and_stop_the_run(tmp_path):
    config = make_test_config()
    config.model.N, config.model.M = 8, 16
    config.data.crop, config.data.batch_size = 64, 2
    config.loss.lmbda = float("nan")  # every loss is NaN
    config.optim.max_nonfinite = 2
    config.train.num_steps, config.train.log_every, config.train.checkpoint_every = 6, 1, 1
    with pytest.raises(training.TrainingError, match="non-finite"):
        training.train_and_evaluate(config, str(tmp_path))
    saved = checkpoint.load(str(tmp_path))
    leaves = [np.asarray(x) for x in __import__("jax").tree_util.tree_leaves(saved.params)]
    assert all(np.all(np.isfinite(x)) for x in leaves)  # nothing non-finite was saved
    assert saved.step == 2  # steps 1 and 2 were saved (skipped), step 3 stopped the run


def test_the_test_config_leaves_three_numbered_checkpoints(trained_workdir):
    folder = os.path.join(trained_workdir, "checkpoints")
    steps = sorted(int(d) for d in os.listdir(folder) if d.isdigit())
    assert steps == [200, 400, 600]
    for step in steps:
        assert os.path.isdir(os.path.join(folder, str(step), "tables"))
