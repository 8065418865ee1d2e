"""Training: the step, the resumable data pipeline, checkpoints that can compress."""

import json
import os
import re
import signal
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import laplace_codec
from laplace_codec import api
from laplace_codec.models.model import CompressionModel
from laplace_codec.training import data, optimizer
from laplace_codec.training import loop as training
from tests.conftest import make_test_config


def _tiny_config(num_steps):
    config = make_test_config()
    config.model.N = config.model.M = 8
    config.data.crop = 64
    config.data.batch_size = 2
    config.train.num_steps = num_steps
    config.train.log_every = 1
    config.train.checkpoint_every = 1
    return config


def test_one_step_trains_saves_tables_and_resumes(tmp_path, photo):
    workdir = str(tmp_path)
    first = training.train_and_evaluate(_tiny_config(1), workdir)
    assert [s for s, _ in first["history"]] == [1]
    metrics = first["last"]
    assert all(np.isfinite(v) for v in metrics.values())
    assert metrics["bpp"] > 0 and metrics["skipped_steps"] == 0
    codec = laplace_codec.load(workdir)
    x = photo[:70, :90]
    encoded = codec.encode(x)
    np.testing.assert_array_equal(codec.decompress(encoded.data),
                                  codec.reconstruct(encoded.y_hat, 70, 90))
    # Running again with more steps continues from the checkpoint instead of restarting;
    # records of steps after it (a stretch lost with a killed run) leave metrics.jsonl.
    with open(os.path.join(workdir, "metrics.jsonl"), "a") as f:
        f.write('{"step": 5, "loss": 1.0}\n')
    second = training.train_and_evaluate(_tiny_config(3), workdir)
    assert [s for s, _ in second["history"]] == [2, 3]
    assert laplace_codec.load(workdir).model_hash != codec.model_hash
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        assert [json.loads(line)["step"] for line in f] == [1, 2, 3]


@pytest.mark.slow  # a subprocess that trains (or evaluates with FID)
def test_ctrl_c_saves_a_checkpoint_and_the_run_resumes_from_it(tmp_path):
    """The first SIGINT finishes the step, saves it and stops (exit status 130 from train.py's
    code path); a run started again resumes there.

    The program imports JAX first, as a user's might (it lowers TensorFlow's log threshold),
    and its output carries no TensorFlow CUDA-plugin registration errors (clu imports
    TensorFlow; this CPU has no CUDA)."""
    program = ("import jax\n"
               "import sys\n"
               "from laplace_codec.training import loop as training\n"
               "from tests.test_training import _tiny_config\n"
               "config = _tiny_config(100000)\n"
               "config.train.log_every = config.train.checkpoint_every = 100000\n"
               f"summary = training.train_and_evaluate(config, {str(tmp_path)!r})\n"
               "print(training.summary_line(summary), flush=True)\n"
               "sys.exit(130 if summary['interrupted'] else 0)\n")
    proc = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            cwd=os.path.dirname(os.path.dirname(__file__)))
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "starting from scratch" in line:
            assert "no checkpoint there" in line
        if "(compilation included); training" in line:
            proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=600) == 130, "".join(lines)
    text = "".join(lines)
    assert "SIGINT: saving a checkpoint after this step" in text
    assert "Unable to register" not in text, text[-3000:]
    stopped = re.search(r"stopped at step (\d+) \(SIGINT\): checkpoint saved", text)
    assert stopped, text
    step = int(stopped.group(1))
    assert os.path.isdir(tmp_path / "checkpoints" / str(step))
    resumed = training.train_and_evaluate(_tiny_config(step + 1), str(tmp_path))
    assert [s for s, _ in resumed["history"]] == [step + 1]


def test_progress_lines_give_rate_eta_and_running_means(capsys):
    progress = training.Progress(start=0, total=10, every=0.0)
    progress.update(1, {"loss": 9.0, "bpp": 9.0, "psnr": 9.0})  # the compiling step
    progress.update(2, {"loss": 1.0, "bpp": 0.5, "psnr": 20.0})
    progress.update(3, {"loss": 3.0, "bpp": 1.5, "psnr": 30.0})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "step 1 done (compilation included); training"
    assert re.match(r"step 3/10 \(30\.0%\), [\d.]+ steps/s, elapsed 0:00:\d\d, ETA \S+; mean "
                    r"of the last 1 steps: loss 3, bpp 1\.5, psnr 30$", out[2]), out


def test_data_pipeline_resumes_at_any_step_and_shards_by_process():
    config = make_test_config().data
    config.crop, config.batch_size = 32, 4
    full = data.make_dataset(config, seed=5)
    batches = [next(full) for _ in range(4)]
    assert batches[0].shape == (4, 32, 32, 3) and batches[0].dtype == np.uint8
    assert not np.array_equal(batches[0], batches[1])
    resumed = data.make_dataset(config, seed=5, start_step=3)
    np.testing.assert_array_equal(next(resumed), batches[3])
    halves = [next(data.make_dataset(config, seed=5, start_step=2, process_index=p,
                                     process_count=2)) for p in range(2)]
    np.testing.assert_array_equal(np.concatenate(halves), batches[2])


def test_learning_rate_schedule_decays_to_the_final_rate():
    config = make_test_config()
    schedule = optimizer.learning_rate_schedule(config.optim, 1000)
    lr = config.optim.learning_rate
    np.testing.assert_allclose(float(schedule(0)), lr, rtol=1e-6)
    np.testing.assert_allclose(float(schedule(config.optim.decay_start * 1000 - 1)), lr,
                               rtol=1e-6)
    assert float(schedule(900)) < lr
    np.testing.assert_allclose(float(schedule(1000)), config.optim.final_learning_rate,
                               rtol=1e-5)


def test_the_fused_update_is_the_optax_optimiser_with_its_state():
    # The loop's one-pass update must do what make_optimizer(config) does (clipping, Adam,
    # the schedule, the non-finite guard) on the same state, so that checkpoints written
    # before it resume unchanged; the EMA as optax.incremental_update.
    config = make_test_config()
    config.optim.grad_clip = 0.5
    config.optim.decay_start = 0.0  # the learning rate changes at every step
    config.train.num_steps = 6
    rng = np.random.default_rng(0)
    params = {"a": jnp.asarray(rng.normal(size=(3, 4)), jnp.float32),
              "b": {"c": jnp.asarray(rng.normal(size=(5,)), jnp.float32)}}
    tx = optimizer.make_optimizer(config)
    ref_params, ref_state, ref_ema = params, tx.init(params), params
    ours_params, ours_state, ours_ema = params, tx.init(params), params
    update = jax.jit(lambda p, s, g, e: optimizer.update(config, p, s, g, e, 0.9))
    for k in range(6):
        scale = (0.01, 10.0, np.nan, 0.2, np.inf, 3.0)[k]  # clipped and unclipped, non-finite
        grads = jax.tree_util.tree_map(
            lambda x, s=scale: jnp.asarray(rng.normal(size=x.shape) * s, jnp.float32), params)
        updates, ref_state = tx.update(grads, ref_state, ref_params)
        ref_params = optax.apply_updates(ref_params, updates)
        ref_ema = optax.incremental_update(ref_params, ref_ema, 0.1)
        ours_params, ours_state, ours_ema, norm = update(ours_params, ours_state, grads,
                                                         ours_ema)
        np.testing.assert_allclose(norm, optax.global_norm(grads), rtol=1e-6)
        for ref, ours in ((ref_params, ours_params), (ref_state, ours_state),
                          (ref_ema, ours_ema)):
            assert jax.tree_util.tree_structure(ref) == jax.tree_util.tree_structure(ours)
            for a, b in zip(jax.tree_util.tree_leaves(ref), jax.tree_util.tree_leaves(ours)):
                np.testing.assert_allclose(b, a, rtol=2e-6, atol=1e-7)
    assert int(ours_state.total_notfinite) == 2 and int(ours_state.inner_state[1][0].count) == 4
    assert not np.array_equal(ours_params["a"], params["a"])


def test_the_gain_units_of_a_variable_rate_model_can_be_frozen():
    # A decoder trained on a frozen variable-rate codec must keep its gains too (they scale
    # the y that the frozen entropy model codes).
    config = make_test_config()
    config.train.freeze = "g_a,y_gain,z_gain"
    variable = CompressionModel(N=8, M=16, rate_lmbdas=(0.02, 0.01))
    assert training.frozen_modules(config, variable) == {"g_a", "y_gain", "z_gain"}
    with pytest.raises(ValueError, match="unknown modules"):
        training.frozen_modules(config, CompressionModel(N=8, M=16))


def test_frozen_modules_keep_their_weights_and_others_train(tmp_path):
    """train.init_from + train.freeze: the frozen modules stay bit-identical to the source
    checkpoint through training; the others move; a frozen module the source cannot fill is
    refused."""
    import pytest

    source = str(tmp_path / "source")
    training.train_and_evaluate(_tiny_config(1), source)
    config = _tiny_config(2)
    config.train.init_from = source
    config.train.freeze = "g_a,h_a,z_prior"
    training.train_and_evaluate(config, str(tmp_path / "frozen"))
    before = laplace_codec.training.checkpoint.load(source).params
    after = laplace_codec.training.checkpoint.load(str(tmp_path / "frozen")).params
    for name in ("g_a", "h_a", "z_prior"):
        for a, b in zip(jax.tree_util.tree_leaves(before[name]),
                        jax.tree_util.tree_leaves(after[name])):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(before["g_s"]["Up_3"]["Conv_0"]["kernel"],
                              after["g_s"]["Up_3"]["Conv_0"]["kernel"])
    bigger = _tiny_config(1)
    bigger.model.N = 16
    bigger.train.init_from, bigger.train.freeze = source, "h_a"
    with pytest.raises(ValueError, match="random initial values"):
        training.train_and_evaluate(bigger, str(tmp_path / "bigger"))
    bigger.train.freeze = "g_x"
    with pytest.raises(ValueError, match="unknown modules"):
        training.train_and_evaluate(bigger, str(tmp_path / "bigger2"))


def test_init_from_a_bundled_model_copies_its_stored_weights(tmp_path, monkeypatch):
    """train.init_from names a zoo model when no such folder exists: training starts from
    the weights its files are coded with (int8 kernels expanded), not from the checkpoint it
    was exported from; a name that is neither is refused with the installed names."""
    import pytest

    from laplace_codec.models import model as model_lib
    from laplace_codec import zoo

    source = str(tmp_path / "source")
    config = _tiny_config(1)
    training.train_and_evaluate(config, source)
    api.export(source, "tiny-zoo", out_dir=str(tmp_path / "models"), progress=False)
    monkeypatch.setenv(zoo.DIRS_ENV, str(tmp_path / "models"))
    monkeypatch.chdir(tmp_path)  # no folder named tiny-zoo here
    state = training.init_state(model_lib.from_config(config.model), config,
                                jax.random.PRNGKey(1))
    params, copied, fresh = training.warm_start(state["params"], "tiny-zoo")
    assert not fresh and len(copied) == len(jax.tree_util.tree_leaves(params))
    stored = jax.tree_util.tree_leaves(zoo.params("tiny-zoo"))
    for a, b in zip(jax.tree_util.tree_leaves(params), stored):
        np.testing.assert_array_equal(np.asarray(a), b)
    trained = jax.tree_util.tree_leaves(laplace_codec.training.checkpoint.load(source).params)
    assert any(not np.array_equal(a, b) for a, b in zip(stored, trained))  # int8 kernels
    with pytest.raises(ValueError, match="neither a checkpoint folder nor a bundled model: "
                                         "no zoo model named 'no-such-model' .installed: .*"
                                         "tiny-zoo"):
        training.warm_start(state["params"], "no-such-model")


def test_a_run_records_its_sources_steps_for_every_later_export(tmp_path, monkeypatch):
    """A run started from bundled model "vr" (1 step) records that "1" when it starts; an
    export of the run at step 2 named "vr" replaces the source, and a later export of the same
    run (step 3, after a resume) still counts 1 + 3 steps, not the replaced model's 1 + 2 + 3."""
    from laplace_codec import zoo

    models = str(tmp_path / "models")
    monkeypatch.setenv(zoo.DIRS_ENV, models)
    monkeypatch.chdir(tmp_path)  # no folder named vr here
    training.train_and_evaluate(_tiny_config(1), str(tmp_path / "base"))
    api.export(str(tmp_path / "base"), "vr", out_dir=models, progress=False)
    assert zoo.training_steps("vr") == "1"
    config = _tiny_config(2)
    config.train.init_from = "vr"
    run = str(tmp_path / "run")
    training.train_and_evaluate(config, run)
    assert config.train.init_from_steps == ""  # the caller's config is left alone
    api.export(run, "vr", out_dir=models, progress=False)  # replaces the source
    assert zoo.training_steps("vr") == "1+2"
    config.train.num_steps = 3
    training.train_and_evaluate(config, run)  # resumes: the record comes from the checkpoint
    api.export(run, "vr", out_dir=models, progress=False)
    assert zoo.training_steps("vr") == "1+3"
