"""The model zoo: storage precision, exact round trips from stored weights, integrity, and
the CLI's default model, --model, --target-bpp and decoding by the file's model hash."""

import json
import os
import shutil
import subprocess

import numpy as np
import pytest

from laplace_codec import api, zoo
from laplace_codec.errors import CheckpointError, InputError


@pytest.fixture(scope="session")
def zoo_dir(tmp_path_factory, trained_workdir, trained_laplacian_workdir):
    """Two exported test models of one family (int8), and the hyperprior also as float32."""
    out = str(tmp_path_factory.mktemp("zoo"))
    api.export(trained_workdir, "hp", out, "int8", family="test", progress=False)
    api.export(trained_laplacian_workdir, "lap", out, "int8", family="test", progress=False)
    api.export(trained_workdir, "hp32", out, "float32", family="exact", progress=False)
    return out


@pytest.fixture
def installed(zoo_dir, monkeypatch):
    monkeypatch.setenv(zoo.DIRS_ENV, zoo_dir)
    monkeypatch.setenv(zoo.DEFAULT_ENV, "hp")
    return zoo_dir


def test_int8_storage_is_per_channel_and_within_half_a_step():
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(3, 3, 16, 8)).astype(np.float32) * np.arange(1, 9)  # 8 outputs
    params = {"g_a": {"conv": {"kernel": kernel, "bias": np.arange(8, dtype=np.float32)}},
              "y_model": {"ctx": {"kernel_1": kernel, "kernel_x": kernel}},
              "big": {"table": rng.normal(size=(40, 40)).astype(np.float32)}}
    arrays = zoo.pack(params, "int8")
    assert arrays["q:g_a/conv/kernel"].dtype == np.int8
    assert arrays["q:y_model/ctx/kernel_1"].dtype == np.int8  # the entropy model's kernels
    assert "h:y_model/ctx/kernel_x" in arrays  # not a kernel name: float16
    step = np.abs(kernel).reshape(-1, 8).max(0) / 127  # one scale per output channel
    np.testing.assert_allclose(arrays["s:g_a/conv/kernel"], step, rtol=1e-6)
    back = zoo.unpack(arrays)
    assert np.all(np.abs(back["g_a"]["conv"]["kernel"] - kernel) <= step / 2 * (1 + 1e-5))
    np.testing.assert_array_equal(back["g_a"]["conv"]["bias"], params["g_a"]["conv"]["bias"])
    # a large array that is not a kernel is stored as float16, not quantised
    np.testing.assert_array_equal(back["big"]["table"],
                                  params["big"]["table"].astype(np.float16).astype(np.float32))
    with pytest.raises(ValueError, match="unknown precision"):
        zoo.pack(params, "int4")


def test_float32_export_is_the_checkpoint_model(zoo_dir, codec, monkeypatch):
    """Stored weights and rebuilt tables reproduce the checkpoint exactly: same model hash."""
    monkeypatch.setenv(zoo.DIRS_ENV, zoo_dir)
    assert api.load_bundled("hp32").model_hash == codec.model_hash


def test_zoo_round_trip_is_exact_and_matches_the_recorded_hash(installed, photo):
    import laplace_codec

    entry = zoo.find("lap")
    writer = laplace_codec.load("lap")  # a zoo name works wherever a checkpoint path does
    assert writer.model_hash.hex() == entry.model_hash
    encoded = writer.encode(photo[:200, :300])
    reader = api.load_bundled("lap")  # a second, independent load decodes the file
    x1 = reader.decompress(encoded.data)
    x2 = writer.reconstruct(encoded.y_hat, 200, 300)
    np.testing.assert_array_equal(x1, x2)
    assert x1.shape == (200, 300, 3)
    assert laplace_codec.load().model_hash.hex() == zoo.find("hp").model_hash  # the default
    # name= renames a checkpoint's codec; it never silently falls back to the default model
    with pytest.raises(ValueError, match=r"load\('lap'\) loads the zoo model"):
        laplace_codec.load(name="lap")


def test_damaged_weights_are_refused(zoo_dir, tmp_path, monkeypatch):
    import shutil

    for ext in (".npz", ".json"):
        shutil.copy(os.path.join(zoo_dir, "hp" + ext), tmp_path / ("hp" + ext))
    with np.load(tmp_path / "hp.npz") as f:
        arrays = {k: f[k] for k in f.files}
    key = next(k for k in arrays if k.startswith("q:"))
    arrays[key] = arrays[key].copy()
    arrays[key].flat[0] ^= 1  # one weight off by one step
    np.savez(tmp_path / "hp.npz", **arrays)
    monkeypatch.setenv(zoo.DIRS_ENV, str(tmp_path))
    with pytest.raises(CheckpointError, match="recorded model hash"):
        api.load_bundled("hp")


def test_unknown_names_and_bad_exports_are_refused(installed, trained_workdir, tmp_path):
    with pytest.raises(CheckpointError, match="no zoo model named 'nope'") as e:
        zoo.find("nope")
    installed_names = str(e.value).split("installed: ")[1].split(")")[0].split(", ")
    assert {"hp", "hp32", "lap"} <= set(installed_names)  # the names to choose from
    with pytest.raises(ValueError, match="without '/'"):
        api.export(trained_workdir, "a/b", str(tmp_path))
    with pytest.raises(ValueError, match="unknown precision"):
        api.export(trained_workdir, "x", str(tmp_path), precision="int4")
    assert not os.listdir(tmp_path)  # nothing written


def test_target_bpp_keeps_the_first_model_that_fits(installed, photo):
    image = photo[:256, :256]
    bpp = {}
    for name in ("hp", "lap"):
        bpp[name] = 8 * len(api.load_bundled(name).encode(image).data) / (256 * 256)
    order = sorted(["hp", "lap"], key=lambda n: (zoo.find(n).lmbda,
                                                 -zoo.find(n).meta.get("eval", {}).get("bpp", 0)))
    first, second = order
    codec, encoded = api.select_for_bpp(image, max(bpp.values()) + 0.01, family="test")
    assert codec.name == first
    if bpp[second] < bpp[first]:
        codec, encoded = api.select_for_bpp(image, (bpp[first] + bpp[second]) / 2, "test")
        assert codec.name == second and 8 * len(encoded.data) / 256 ** 2 == bpp[second]
    with pytest.raises(InputError, match=f"smallest file is {min(bpp.values()):.4f} bpp"):
        api.select_for_bpp(image, min(bpp.values()) / 2, family="test")
    with pytest.raises(CheckpointError, match="no zoo model of family 'other'"):
        api.select_for_bpp(image, 1.0, family="other")


def test_cli_default_model_and_decoding_by_hash(installed, tmp_path, capsys):
    from laplace_codec import cli, images

    src, lgc, rec = tmp_path / "in.png", tmp_path / "out.lgc", tmp_path / "rec.png"
    images.write_image(str(src), np.full((64, 96, 3), 120, np.uint8))
    assert cli.main(["compress", str(src), str(lgc)]) == 0
    assert "model hp@" in capsys.readouterr().out  # the default
    assert cli.main(["decompress", str(lgc), str(rec)]) == 0  # no --ckpt: found by its hash
    assert "model hp@" in capsys.readouterr().out
    assert cli.main(["compress", "--model", "lap", str(src), str(lgc)]) == 2  # exists
    assert "out.lgc exists; pass -f/--force to overwrite" in capsys.readouterr().err
    assert cli.main(["compress", "-f", "--model", "lap", str(src), str(lgc)]) == 0
    assert cli.main(["decompress", "--force", str(lgc), str(rec)]) == 0
    assert "model lap@" in capsys.readouterr().out
    assert cli.main(["models"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split()[:3] == ["name", "entropy", "decoder"]
    assert any(line.startswith("hp (default)") for line in listing)
    assert cli.main(["compress", "--model", "lap", "--ckpt", "x", str(src), str(lgc)]) == 2
    assert "not --ckpt and --model" in capsys.readouterr().err


def test_cli_without_the_default_model_says_what_to_do(tmp_path, monkeypatch, capsys):
    from laplace_codec import cli

    monkeypatch.setenv(zoo.DIRS_ENV, str(tmp_path))
    monkeypatch.setenv(zoo.DEFAULT_ENV, "missing-model")
    assert cli.main(["compress", "sample:astronaut", str(tmp_path / "a.lgc")]) == 2
    assert "the default model missing-model is not installed" in capsys.readouterr().err
    assert not (tmp_path / "a.lgc").exists()


def test_exported_description_records_training(zoo_dir):
    with open(os.path.join(zoo_dir, "lap.json")) as f:
        meta = json.load(f)
    assert meta["entropy"] == "laplacian" and meta["decoder"] == "mse"
    assert meta["training"]["steps"] > 0 and meta["precision"] == "int8"
    assert meta["size_bytes"] == os.path.getsize(os.path.join(zoo_dir, "lap.npz"))


def test_recorded_checkpoint_path_is_relative_below_the_working_directory(tmp_path,
                                                                           monkeypatch):
    """A shipped description says runs/zoo/NAME/..., not the exporting machine's folders."""
    monkeypatch.chdir(tmp_path / "..")
    inside = os.path.join(tmp_path.name, "runs", "zoo", "m", "checkpoints", "3000")
    assert api._portable_path(inside) == inside
    assert api._portable_path(os.path.abspath(inside)) == inside
    assert api._portable_path("/") == "/"


def test_training_steps_follow_init_from_through_installed_models(tmp_path, monkeypatch):
    """`laplace-codec models` shows a fine-tune's steps after its base's ("12000+3000"),
    whether init_from named the base's folder or the bundled model; a source that is not
    installed ends the chain, and a cycle does not loop."""
    chain = {"base": ("", 12000), "ft": ("runs/zoo/base/", 3000), "diff": ("ft", 1500),
             "alone": ("runs/elsewhere", 700), "a": ("b", 1), "b": ("a", 2)}
    for name, (source, steps) in chain.items():
        (tmp_path / f"{name}.npz").write_bytes(b"")
        meta = dict(meta_version=zoo.META_VERSION, name=name, training=dict(steps=steps),
                    config=dict(train=dict(init_from=source)))
        (tmp_path / f"{name}.json").write_text(json.dumps(meta))
    monkeypatch.setenv(zoo.DIRS_ENV, str(tmp_path))
    assert zoo.training_steps("base") == "12000"
    assert zoo.training_steps("ft") == "12000+3000"
    assert zoo.training_steps("diff") == "12000+3000+1500"
    assert zoo.training_steps("alone") == "700"
    assert zoo.training_steps("a") == "2+1"
    # an export that replaced its own source under the same name keeps the source's steps
    meta = dict(meta_version=zoo.META_VERSION, name="vr",
                training=dict(steps=20000, steps_before="12000+9000"),
                config=dict(train=dict(init_from="vr")))
    (tmp_path / "vr.npz").write_bytes(b"")
    (tmp_path / "vr.json").write_text(json.dumps(meta))
    assert zoo.training_steps("vr") == "12000+9000+20000"


def test_export_sets_a_diffusion_models_default_sampling(trained_diffusion_workdir, diffusion_codec,
                                                         trained_workdir, tmp_path, monkeypatch,
                                                         capsys):
    """``export --steps/--sampler`` become the zoo model's decoding defaults (recorded in its
    config, shown by ``models``); an MSE model has no sampling to set and is refused before
    anything is written."""
    import laplace_codec

    steps = diffusion_codec.steps + 1
    sampler = "ancestral" if diffusion_codec.sampler == "ddim" else "ddim"
    out = str(tmp_path / "models")
    entry = api.export(trained_diffusion_workdir, "diff", out, steps=steps, sampler=sampler,
                       progress=False)
    assert entry.meta["config"]["model"]["diffusion"]["steps"] == steps
    assert entry.meta["config"]["model"]["diffusion"]["sampler"] == sampler
    monkeypatch.setenv(zoo.DIRS_ENV, out)
    loaded = api.load_bundled("diff")
    assert (loaded.steps, loaded.sampler) == (steps, sampler)
    from laplace_codec import cli

    assert cli.main(["models"]) == 0
    row = next(r for r in capsys.readouterr().out.splitlines() if r.startswith("diff "))
    assert f"diffusion ({steps} {sampler})" in row
    assert laplace_codec.load(trained_diffusion_workdir).steps == diffusion_codec.steps  # as was
    with pytest.raises(ValueError, match="MSE decoder"):
        api.export(trained_workdir, "mse", str(tmp_path / "mse"), steps=5, progress=False)
    assert not os.path.exists(tmp_path / "mse")


def test_files_of_unknown_and_retired_models_are_refused_with_what_to_do(installed, tmp_path,
                                                                         monkeypatch, capsys):
    from laplace_codec import cli, images

    src, lgc, rec = tmp_path / "in.png", tmp_path / "out.lgc", tmp_path / "rec.png"
    images.write_image(str(src), np.full((64, 96, 3), 120, np.uint8))
    assert cli.main(["compress", "--model", "lap", str(src), str(lgc)]) == 0
    lap_hash = zoo.find("lap").model_hash
    monkeypatch.setenv(zoo.DIRS_ENV, str(tmp_path / "empty"))  # the model is gone
    monkeypatch.setattr(zoo, "WEIGHTS_DIR", str(tmp_path / "none"))
    capsys.readouterr()
    assert cli.main(["decompress", str(lgc), str(rec)]) == 2
    err = capsys.readouterr().err
    assert f"lap@{lap_hash}, which is not a bundled model; pass that model's --ckpt" in err
    monkeypatch.setitem(zoo.RETIRED, lap_hash, ("lap", "0123abc"))  # replaced by a newer lap
    assert cli.main(["decompress", str(lgc), str(rec)]) == 2
    err = capsys.readouterr().err
    assert f"lap@{lap_hash}, a bundled model that has been replaced since" in err
    assert "git show 0123abc:laplace_codec/weights/lap.$e" in err and not rec.exists()


def test_a_retired_name_is_refused_with_its_successor_and_how_to_install_it(
        installed, tmp_path, monkeypatch):
    """By ``zoo.find`` and by ``load``, which otherwise reads the name as a missing folder;
    the shell commands of the message, run on a copy of the model in a git repository,
    install it where LAPLACE_CODEC_MODELS finds it again."""
    repo = tmp_path / "clone"
    weights = repo / "laplace_codec" / "weights"
    weights.mkdir(parents=True)
    entry = zoo.find("lap")
    for src in (entry.weights, entry.weights[:-len(".npz")] + ".json"):
        shutil.copy(src, weights)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-qm", "ships lap"], check=True)
    commit = subprocess.run(git + ["rev-parse", "HEAD"], check=True, capture_output=True,
                            text=True).stdout.strip()
    monkeypatch.setenv(zoo.DIRS_ENV, str(tmp_path / "empty"))  # the model is gone
    monkeypatch.setattr(zoo, "WEIGHTS_DIR", str(tmp_path / "none"))
    monkeypatch.setitem(zoo.RETIRED_NAMES, "lap", ("lap-vr --lmbda 0.01", commit))
    with pytest.raises(CheckpointError, match=r"'lap' was retired: lap-vr --lmbda 0.01 "
                                              r"replaced it"):
        api.load("lap")
    with pytest.raises(CheckpointError, match=r"'lap' was retired: lap-vr --lmbda 0.01 "
                                              r"replaced it") as e:
        zoo.find("lap")
    shell = str(e.value).split("`")[-2]  # the commands between backquotes
    subprocess.run(["bash", "-c", shell], cwd=repo, check=True)
    monkeypatch.setenv(zoo.DIRS_ENV, str(repo / "retired-models"))
    assert zoo.find("lap").model_hash == entry.model_hash
