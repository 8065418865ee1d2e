"""The codec users hold: ``compress(image) -> bytes`` and ``decompress(bytes) -> image``.

The coding path runs the decoder's own computation on both sides. For each coding step k of
the entropy model (one step for the hyperprior; anchors then non-anchors per chunk for the
Laplacian-guided model), the parameters (mu, sigma) come from ``model.step_params`` applied
to the hyper features and to ``y_hat`` as decoded so far; the elements of step k are coded
as ``v = round(y - mu)`` (mean-shifted rounding) with the table row of sigma, and both sides
set ``y_hat = v + mu``. Encoder and decoder therefore feed bit-identical inputs to identical
compiled functions, which is what keeps the range decoder in sync.

A diffusion decoder samples the image from y_hat; the encoder records the sampler, its step
count and its seed in the header, so a file always decodes to the same pixels. ``decode``
may override the step count and sampler (a different, equally valid image).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import os
import time
import types

import jax
import jax.numpy as jnp
import numpy as np

from laplace_codec import images
from laplace_codec.coding import bitstream, executables, tf_backend, tiling
from laplace_codec.coding import refine as refine_lib
from laplace_codec.coding.range_coder import Decoder, Encoder
from laplace_codec.coding.tables import CodingTables
from laplace_codec.errors import CheckpointError, FormatError, ModelMismatchError
from laplace_codec.models import gain
from laplace_codec.models import model as model_lib
from laplace_codec.models.decoders import blur_diffusion
from laplace_codec.models.decoders.kinds import kind_of_sampler
from laplace_codec.models.entropy import gaussian_conditional as gc
from laplace_codec.models.entropy.base import LIKELIHOOD_BOUND

_CACHE_ENV = "LAPLACE_CODEC_CACHE"


def enable_compilation_cache() -> None:
    """Turns on JAX's persistent compilation cache (``$LAPLACE_CODEC_CACHE`` or
    ``~/.cache/laplace_codec/jax``) so that a second process does not compile again.

    The CLI calls this; it changes a process-wide JAX setting, so library users opt in.
    """
    if jax.config.jax_compilation_cache_dir:
        return
    path = os.environ.get(_CACHE_ENV) or os.path.join(
        os.path.expanduser("~"), ".cache", "laplace_codec", "jax")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return
    jax.config.update("jax_compilation_cache_dir", path)
    # Every program, however quick to compile: a command compiles dozens of small ones (one
    # per coding step and eager op), and with a 0.5 s floor `compress` of a Kodak image spent
    # 4.4 s of its 8.4 s compiling them again in every process (benchmarks/cli_latency.py).
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def pad_image(x: np.ndarray, multiple: int = model_lib.PAD_MULTIPLE):
    """Pads (H, W, 3) at the bottom and right by edge replication to a multiple of 64."""
    h, w = x.shape[:2]
    pad_h, pad_w = (-h) % multiple, (-w) % multiple
    return np.pad(x, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge"), pad_h, pad_w


def params_digest(params) -> bytes:
    h = hashlib.sha256()
    for path, leaf in sorted(jax.tree_util.tree_flatten_with_path(params)[0],
                             key=lambda kv: jax.tree_util.keystr(kv[0])):
        a = np.ascontiguousarray(np.asarray(leaf))
        h.update(jax.tree_util.keystr(path).encode())
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.digest()


@dataclasses.dataclass
class Encoded:
    """What ``Codec.encode`` returns: the file and the encoder's view of it."""

    data: bytes
    y_hat: np.ndarray  # (1, h, w, M): exactly what the decoder reconstructs
    estimated_bits: float  # -log2 likelihood of y_hat and z_hat under the model
    network_s: float
    coding_s: float
    # Estimated bits of z, then of each coding step of y, in the order of
    # ``model.coding_steps(model, y_hat.shape[1:])`` (per chunk: anchors, non-anchors).
    step_bits: tuple[float, ...] = ()
    quality: float | None = None  # a variable-rate model's, as recorded in the header


@functools.lru_cache(maxsize=16)
def _compiled(m: model_lib.CompressionModel) -> types.SimpleNamespace:
    """The jitted pieces of the coding path for the model ``m``, shared by every codec of
    the same architecture (weights are arguments), so that loading several checkpoints of
    one model (a lambda sweep, ``--target-bpp``) compiles each function once. With the
    persistent compilation cache on, their executables are also kept on disk beside it
    (``executables.py``): a new process then neither traces nor compiles them."""
    # ``q`` is the quality of a variable-rate model (a traced float32 scalar: one compiled
    # function serves every quality), None (the default) for a fixed-rate model.
    functions = {
        "analyze": (jax.jit(lambda p, x, q=None: m.apply(p, x, q, method=m.analyze)), ()),
        "hyper": (jax.jit(lambda p, z, q=None: m.apply(p, z, q, method=m.hyper)), ()),
        "step": (jax.jit(lambda p, key, arg, hyper, y_hat: m.apply(
            p, key, arg, hyper, y_hat, method=m.step_params), static_argnums=1), (1,)),
        "sample": (jax.jit(lambda p, y_hat, seed, steps, sampler, q=None: model_lib.sample_image(
            m, p, y_hat, jax.random.PRNGKey(seed), steps, sampler, quality=q),
            static_argnums=(3, 4)), (3, 4)),
        "sample_step": (jax.jit(
            lambda p, y_hat, z, k, noise, steps, sampler, q=None: model_lib.sample_step(
                m, p, y_hat, z, k, steps, sampler, noise, q), static_argnums=(5, 6)), (5, 6)),
        "synth": (jax.jit(lambda p, y_hat, q=None: m.apply(p, y_hat, q, method=m.synthesize)), ()),
        "z_lik": (jax.jit(lambda p, z: m.apply(p, z, method=lambda mod, z: mod.z_prior(z))), ()),
        "g_a": (jax.jit(lambda p, x, q=None: m.apply(p, x, q, method=m.y_from_x)), ()),
        "h_a": (jax.jit(lambda p, y, q=None: m.apply(p, y, q, method=m.z_from_y)), ()),
    }
    cache = jax.config.jax_compilation_cache_dir
    if not cache:
        return types.SimpleNamespace(**{name: fn for name, (fn, _) in functions.items()})
    folder = os.path.join(cache, "executables")
    return types.SimpleNamespace(**{
        name: executables.Persistent(fn, name, repr(m), folder, static)
        for name, (fn, static) in functions.items()})


class Codec:
    """A trained model with its coding tables; see :func:`laplace_codec.load`."""

    # Above this many (padded) pixels, ``reconstruct`` runs g_s on overlapping latent tiles
    # (``tiling.py``): the same image up to float rounding, with bounded peak memory.
    # None: never tile.
    synthesis_tile_pixels: int | None = 1 << 22
    analysis_tile_pixels: int | None = 1 << 22  # the same for g_a in ``encode``
    tile_latents: int = tiling.DEFAULT_TILE  # core side of a tile, in latent positions
    # Above this many (padded) pixels a diffusion decoder samples in overlapping windows,
    # blended at every step (``tiling.blended_steps``): bounded memory, and an image that
    # differs from the untiled one only near the seams. Part of the format in effect: a
    # file's image depends on it, so it stays fixed across releases.
    diffusion_tile_pixels: int | None = 1 << 22
    diffusion_tile_latents: int = 32  # core side (512 pixels)
    diffusion_halo: int = 4  # overlap on each side (64 pixels), blended across

    def __init__(self, model: model_lib.CompressionModel, params, tables: CodingTables | None,
                 name: str, steps: int | None = None, sampler: str | None = None,
                 lmbda: float | None = None):
        self.model, self.name = model, name
        # A fixed-rate model's training lambda (for refinement); a variable-rate model's
        # lambda follows its quality.
        self.lmbda = lmbda
        self.decoder_kind = model_lib.decoder_for(model)
        # The sampling settings of new files (None: the decoder does not sample).
        self.steps, self.sampler = self.decoder_kind.steps, self.decoder_kind.sampler
        if self.decoder_kind.samples or steps is not None or sampler is not None:
            self.set_sampling(steps, sampler)
        # One batched transfer (one call per leaf cost 0.07 s of a 0.2 s load).
        self.params = {"params": jax.device_put(params)}
        self.tables = tables
        if tables is not None:
            tf_backend.compression_ops()  # import TensorFlow now, not in the first timed call
        digest = hashlib.sha256(params_digest(params))
        if tables is not None:
            digest.update(tables.digest())
        self.model_hash = digest.digest()[:8]
        fns = _compiled(model)
        self._analyze, self._hyper, self._step = fns.analyze, fns.hyper, fns.step
        self._z_lik, self._g_a, self._h_a = fns.z_lik, fns.g_a, fns.h_a
        self._sample, self._synth, self._sample_step = fns.sample, fns.synth, fns.sample_step
        # The quality of new files (variable-rate models; None for a fixed rate).
        self.quality = model_lib.default_quality(model)

    @property
    def variable_rate(self) -> bool:
        return bool(self.model.rate_lmbdas)

    @property
    def quality_range(self) -> tuple[float, float] | None:
        """(lowest, highest) quality of a variable-rate model (higher is better: more bits);
        None for a fixed-rate model, which codes at one rate only."""
        return gain.quality_range(self.model.rate_lmbdas) if self.variable_rate else None

    def quality_for_lmbda(self, lmbda: float) -> float:
        """The quality of a variable-rate model that trained for ``lmbda`` (interpolated)."""
        self._require_variable_rate("a lambda")
        return float(np.float32(gain.quality_for_lmbda(lmbda, self.model.rate_lmbdas)))

    def lmbda_for_quality(self, quality: float) -> float:
        self._require_variable_rate("a quality")
        q = gain.check_quality(quality, self.model.rate_lmbdas)
        return float(gain.lmbda_for_quality(q, self.model.rate_lmbdas))

    def _require_variable_rate(self, what: str) -> None:
        if not self.variable_rate:
            raise ValueError(f"model {self.name} has a fixed rate: it takes no {what}; a "
                             f"variable-rate model does (`laplace-codec models` says which)")

    def set_quality(self, quality: float | None = None, lmbda: float | None = None) -> None:
        """The quality of new files: ``quality`` in ``quality_range``, or the quality of
        ``lmbda``; variable-rate models only."""
        self.quality = self._quality(quality, lmbda)

    def with_quality(self, quality: float | None = None,
                     lmbda: float | None = None) -> "Codec":
        """A copy of this codec (sharing weights and compiled functions) whose new files are
        coded at ``quality`` or at the quality of ``lmbda``."""
        other = copy.copy(self)
        other.set_quality(quality, lmbda)
        return other

    def _quality(self, quality, lmbda) -> float | None:
        """The float32-exact quality an encode uses (the codec's own when both are None)."""
        if quality is not None and lmbda is not None:
            raise ValueError("give a quality or a lambda, not both")
        if quality is None and lmbda is None:
            return self.quality
        if lmbda is not None:
            return self.quality_for_lmbda(lmbda)
        self._require_variable_rate("a quality")
        return gain.check_quality(quality, self.model.rate_lmbdas)

    @property
    def diffusion(self) -> bool:
        """Whether the decoder samples its image (a diffusion decoder)."""
        return self.decoder_kind.samples

    def set_sampling(self, steps: int | None = None, sampler: str | None = None) -> None:
        """Diffusion decoders: the steps and sampler that ``encode`` records in new files."""
        self.decoder_kind.require_sampling(self.name)
        self.steps = _check_steps(self.steps if steps is None else steps)
        self.sampler = _check_sampler(self.sampler if sampler is None else sampler)

    @property
    def model_id(self) -> str:
        return f"{self.name}@{self.model_hash.hex()}"

    def _require_tables(self) -> CodingTables:
        if self.tables is None:
            raise CheckpointError(
                f"model {self.name} has no coding tables; build them once with "
                f"`laplace-codec build-tables --ckpt DIR` (training saves them at every "
                f"checkpoint)")
        return self.tables

    # ------------------------------------------------------------------ encoding
    def encode(self, image, seed: int = 0, quality: float | None = None,
               lmbda: float | None = None, refine: int = 0) -> Encoded:
        """Codes an image; ``seed`` (diffusion decoders) is the sampler's seed in the header;
        ``quality`` or ``lmbda`` (variable-rate models) the rate, recorded in the header
        (default: the codec's ``quality``); ``refine`` > 0 optimises the latents for this
        image first (``refine.py``: that many Adam steps; the decoder reads the file as any
        other)."""
        tables = self._require_tables()
        quality = self._quality(quality, lmbda)
        q = None if quality is None else jnp.float32(quality)
        if not (isinstance(refine, (int, np.integer)) and refine >= 0):
            raise ValueError(f"refine must be a number of steps (0 or more), got {refine!r}")
        if not (isinstance(seed, int) and 0 <= seed < 2**32):
            raise ValueError(f"seed must be an integer in [0, 2^32), got {seed!r}")
        x = images.as_rgb_uint8(image)
        height, width = x.shape[:2]
        xp, pad_h, pad_w = pad_image(x)
        if xp.shape[0] * xp.shape[1] > bitstream.MAX_PIXELS:
            raise images.InputError(f"image of {height}x{width} pixels exceeds the format's "
                                    f"limit of {bitstream.MAX_PIXELS} pixels (after padding)")
        t0 = time.perf_counter()
        y, z = self._analysis(xp, q)
        if refine:
            y, z = self._refine(xp, y, z, quality, int(refine))
        z_sym = np.rint(z).astype(np.int32)
        z_hat = z_sym.astype(np.float32)
        hyper = self._hyper(self.params, z_hat, q)
        z_bits = float(-np.log2(np.asarray(self._z_lik(self.params, z_hat), np.float64)).sum())
        network, coding = time.perf_counter() - t0, 0.0

        t0 = time.perf_counter()
        z_index = np.broadcast_to(np.arange(z.shape[-1], dtype=np.int32), z.shape)
        z_enc = Encoder(tables.z_lookup)
        z_enc.encode(z_sym + tables.z_offset[z_index], z_index)
        coding += time.perf_counter() - t0

        y_enc = Encoder(tables.y_lookup)
        y_hat = np.zeros_like(y)
        step_bits, symbols = [z_bits], [z_sym]
        for step in model_lib.coding_steps(self.model, y.shape[1:]):
            t0 = time.perf_counter()
            mu, sigma = _select(self._step(self.params, step.key, step.arg, hyper, y_hat), step)
            network += time.perf_counter() - t0
            t0 = time.perf_counter()
            v = np.rint(y[0][step.index] - mu).astype(np.int32)
            index = gc.scale_to_index(sigma, tables.scale_edges)
            y_enc.encode(v + tables.y_offset[index], index)
            y_hat[0][step.index] = v.astype(np.float32) + mu
            symbols.append(v)
            step_bits.append(_gaussian_bits(v, sigma))
            coding += time.perf_counter() - t0
        t0 = time.perf_counter()
        streams = [z_enc.finish(), y_enc.finish()]
        coding += time.perf_counter() - t0
        header = bitstream.Header(
            model_name=self.name, model_hash=self.model_hash, height=height, width=width,
            pad_h=pad_h, pad_w=pad_w, symbols_crc=bitstream.symbols_crc(*symbols),
            quality=quality, **self._decoder_fields(seed))
        return Encoded(bitstream.pack(header, streams), y_hat, float(sum(step_bits)), network,
                       coding, tuple(step_bits), quality)

    def _refine(self, xp: np.ndarray, y, z, quality, steps: int):
        if self.decoder_kind.samples:
            raise ValueError(f"model {self.name} has a diffusion decoder: refinement optimises "
                             f"the MSE decoder's image; refine with its MSE codec")
        if self.analysis_tile_pixels is not None and xp.shape[0] * xp.shape[1] > \
                self.analysis_tile_pixels:
            raise ValueError(f"refinement runs on the whole image at once: at most "
                             f"{self.analysis_tile_pixels} pixels, this one has "
                             f"{xp.shape[0] * xp.shape[1]} after padding")
        lmbda = self.lmbda_for_quality(quality) if self.variable_rate else self.lmbda
        if lmbda is None:
            raise ValueError(f"model {self.name} does not say which lambda it was trained "
                             f"for; refinement needs it (Codec(..., lmbda=...))")
        x = model_lib.from_uint8(jnp.asarray(xp[None]))
        q = None if quality is None else jnp.float32(quality)
        y, z = refine_lib.refine_latents(self.model, self.params, x, y, z, q, lmbda, steps)
        return np.asarray(y), np.asarray(z)

    def _decoder_fields(self, seed: int) -> dict:
        return self.decoder_kind.header_fields(seed, self.steps, self.sampler,
                                               bitstream.SAMPLERS)

    def compress(self, image, quality: float | None = None, lmbda: float | None = None,
                 refine: int = 0) -> bytes:
        """Compresses a uint8 RGB image (H, W, 3) of any size into the bytes of a .lgc file;
        a variable-rate model codes at ``quality`` (in ``quality_range``, higher is better)
        or at the quality of ``lmbda``, by default at its ``quality``; ``refine`` steps of
        encoder-side refinement (``refine.py``) spend fewer bits for the same quality."""
        return self.encode(image, quality=quality, lmbda=lmbda, refine=refine).data

    # ------------------------------------------------------------------ decoding
    def check_model(self, header: bitstream.Header) -> None:
        if header.model_hash != self.model_hash:
            raise ModelMismatchError(
                f"file was written by model {header.model_name}@{header.model_hash.hex()}, "
                f"not by {self.model_id}; decode it with that model's checkpoint")

    def decode(self, data: bytes, steps: int | None = None,
               sampler: str | None = None) -> "Decoded":
        """Decodes a file, verified against its decoded-symbol CRC, timing each part.

        A diffusion decoder samples with the header's seed, steps and sampler; ``steps`` and
        ``sampler`` override the latter two."""
        tables = self._require_tables()
        header, streams = bitstream.unpack(data)
        self.check_model(header)
        if not isinstance(self.decoder_kind, kind_of_sampler(header.sampler)):
            raise FormatError("header is inconsistent with the model: sampler fields "
                              f"{header.sampler!r} for a model with a "
                              f"{self.decoder_kind.label} decoder")
        if steps is not None or sampler is not None:
            self.decoder_kind.require_sampling(self.name)
        if (header.quality is None) == self.variable_rate:
            raise FormatError(f"header is inconsistent with the model: "
                              f"{'no' if header.quality is None else 'a'} quality field for "
                              f"a {'variable' if self.variable_rate else 'fixed'}-rate model")
        if header.quality is not None:
            try:
                gain.check_quality(header.quality, self.model.rate_lmbdas)
            except ValueError as e:
                raise FormatError(f"header is inconsistent with the model: {e}") from None
        q = None if header.quality is None else jnp.float32(header.quality)
        hp, wp = header.height + header.pad_h, header.width + header.pad_w
        mult = model_lib.PAD_MULTIPLE
        if hp % mult or wp % mult or header.pad_h >= mult or header.pad_w >= mult:
            raise FormatError("header is inconsistent: padded size is not a multiple of 64")
        if len(streams) != 2:
            raise FormatError(f"expected 2 streams for this model, found {len(streams)}")
        z_shape = (1, hp // mult, wp // mult, self.model.z_channels)
        y_shape = (1, hp // 16, wp // 16, self.model.M)

        t0 = time.perf_counter()
        z_index = np.broadcast_to(np.arange(z_shape[-1], dtype=np.int32), z_shape)
        z_dec = Decoder(streams[0], tables.z_lookup)
        z_sym = z_dec.decode(z_index) - tables.z_offset[z_index]
        z_hat = z_sym.astype(np.float32)
        coding = time.perf_counter() - t0
        t0 = time.perf_counter()
        hyper = self._hyper(self.params, z_hat, q)
        network = time.perf_counter() - t0

        t_y = time.perf_counter()
        y_dec = Decoder(streams[1], tables.y_lookup)
        y_hat = np.zeros(y_shape, np.float32)
        symbols = [z_sym]
        for step in model_lib.coding_steps(self.model, y_shape[1:]):
            t0 = time.perf_counter()
            mu, sigma = _select(self._step(self.params, step.key, step.arg, hyper, y_hat), step)
            network += time.perf_counter() - t0
            t0 = time.perf_counter()
            index = gc.scale_to_index(sigma, tables.scale_edges)
            v = _decode_y(y_dec, index) - tables.y_offset[index]
            y_hat[0][step.index] = v.astype(np.float32) + mu
            symbols.append(v)
            coding += time.perf_counter() - t0
        z_dec.finish()
        y_dec.finish()
        y_s = time.perf_counter() - t_y
        if bitstream.symbols_crc(*symbols) != header.symbols_crc:
            raise FormatError("decoded symbols do not match the file's checksum: the decoder "
                              "went out of sync (wrong tables or weights, or a damaged file)")
        t0 = time.perf_counter()
        # The file's sampling unless overridden (an MSE file: 0 steps, sampler "none", unused).
        steps = header.decoder_steps if steps is None else steps
        sampler = header.sampler if sampler is None else sampler
        image = self.reconstruct(y_hat, header.height, header.width, header.decoder_seed,
                                 steps, sampler, header.quality)
        network += time.perf_counter() - t0
        return Decoded(image, header, y_hat, network, coding, y_s)

    def reconstruct(self, y_hat: np.ndarray, height: int, width: int, seed: int = 0,
                    steps: int | None = None, sampler: str | None = None,
                    quality: float | None = None) -> np.ndarray:
        """The decoder's image for a quantized latent, cropped to (height, width); diffusion
        decoders sample with (seed, steps, sampler), defaulting to the codec's settings; a
        variable-rate model decodes at ``quality`` (default: the codec's); an MSE decoder's
        g_s runs in tiles on large images (``_synthesize``)."""
        quality = self._quality(quality, None)
        q = None if quality is None else jnp.float32(quality)
        if self.decoder_kind.samples:
            steps = _check_steps(self.steps if steps is None else steps)
            sampler = _check_sampler(self.sampler if sampler is None else sampler)
            x_hat = self._diffuse(y_hat, seed, steps, sampler, q)[0]
        else:
            x_hat = self._synthesize(y_hat, q)[0]
        x_hat = model_lib.to_uint8(x_hat).astype(np.uint8)
        return x_hat[:height, :width]

    def _diffuse(self, y_hat: np.ndarray, seed: int, steps: int, sampler: str,
                 q=None) -> np.ndarray:
        """The diffusion decoder's sample for y_hat (eq. 13), in blended windows when the
        image is larger than ``diffusion_tile_pixels``."""
        limit = self.diffusion_tile_pixels
        if limit is None or y_hat.shape[1] * y_hat.shape[2] * 256 <= limit:
            return np.asarray(self._sample(self.params, jnp.asarray(y_hat), seed, steps,
                                           sampler, q))
        # The untiled sampler's random numbers (blur_diffusion.sample), drawn for the
        # whole image and cut to each window.
        shape = (1, 16 * y_hat.shape[1], 16 * y_hat.shape[2], 3)
        temperature = model_lib.diffusion_option(self.model, "temperature")
        z, rng = blur_diffusion.initial_noise(jax.random.PRNGKey(seed), shape, temperature)
        noise = (lambda k: blur_diffusion.step_noise(rng, k, shape, temperature)) \
            if sampler == "ancestral" else None

        def step(y_window, z_window, k, noise_window):
            return self._sample_step(self.params, jnp.asarray(y_window), jnp.asarray(z_window),
                                     jnp.int32(k), None if noise_window is None else
                                     jnp.asarray(noise_window), steps, sampler, q)

        z = tiling.blended_steps(step, z, y_hat, steps, 16, self.diffusion_tile_latents,
                                 self.diffusion_halo, noise)
        return np.clip(z, -1.0, 1.0)

    def _synthesize(self, y_hat: np.ndarray, q=None) -> np.ndarray:
        """g_s(y_hat), in tiles when the image is larger than ``synthesis_tile_pixels`` (the
        inverse gain of a variable-rate model is per channel: tiles see the same)."""
        limit = self.synthesis_tile_pixels
        if limit is None or y_hat.shape[1] * y_hat.shape[2] * 256 <= limit:
            return np.asarray(self._synth(self.params, jnp.asarray(y_hat), q))
        halo = int(np.ceil(tiling.receptive_radius(self.model.res_blocks)))
        return tiling.tiled_apply(lambda t: self._synth(self.params, jnp.asarray(t), q), y_hat,
                                  scale=16, tile=self.tile_latents, halo=halo)

    def _analysis(self, xp: np.ndarray, q=None) -> tuple[np.ndarray, np.ndarray]:
        """(y, z) of a padded uint8 image; g_a in tiles above ``analysis_tile_pixels``."""
        x = model_lib.from_uint8(jnp.asarray(xp[None]))
        limit = self.analysis_tile_pixels
        if limit is None or xp.shape[0] * xp.shape[1] <= limit:
            y, z = self._analyze(self.params, x, q)
            return np.asarray(y), np.asarray(z)
        halo = int(np.ceil(tiling.analysis_radius(self.model.res_blocks)))
        y = tiling.tiled_apply(lambda t: self._g_a(self.params, jnp.asarray(t), q), x, scale=1,
                               tile=self.tile_latents, halo=halo, in_scale=16)
        return y, np.asarray(self._h_a(self.params, jnp.asarray(y), q))

    def decompress(self, data: bytes, steps: int | None = None,
                   sampler: str | None = None) -> np.ndarray:
        """Decodes the bytes of a .lgc file into a uint8 RGB image (H, W, 3)."""
        return self.decode(data, steps, sampler).image


def _decode_y(decoder: Decoder, index: np.ndarray) -> np.ndarray:
    """``decoder.decode(index)`` for a step of y. A decoder out of sync with the encoder reads
    symbols that were never written and can run out of escaped values before the checksum
    catches it, so the range coder's "truncated" names both causes here."""
    try:
        return decoder.decode(index)
    except FormatError as e:
        raise FormatError(f"{e} while decoding y: the file is damaged, or the decoder went out "
                          f"of sync (wrong tables or weights)") from None


@dataclasses.dataclass
class Decoded:
    """What ``Codec.decode`` returns."""

    image: np.ndarray  # uint8 (H, W, 3)
    header: bitstream.Header
    y_hat: np.ndarray
    network_s: float
    coding_s: float
    y_s: float  # decoding y alone: entropy parameters and range decoding, step by step


def _check_steps(steps) -> int:
    if not (isinstance(steps, (int, np.integer)) and 1 <= steps <= 65535):
        raise ValueError(f"sampling steps must be an integer from 1 to 65535, got {steps!r}")
    return int(steps)


def _check_sampler(sampler) -> str:
    if sampler not in bitstream.SAMPLERS[1:]:
        raise ValueError(f"unknown sampler {sampler!r}; choose one of {bitstream.SAMPLERS[1:]}")
    return sampler


def _select(params, step):
    """The (mu, sigma) of a coding step's elements, as numpy arrays."""
    mu, sigma = np.asarray(params[0]), np.asarray(params[1])
    if step.local:
        return mu, sigma
    return mu[0][step.index], sigma[0][step.index]


def _gaussian_bits(v: np.ndarray, sigma: np.ndarray) -> float:
    return float(-np.log2(np.maximum(gc.mass(v, sigma), LIKELIHOOD_BOUND)).sum())
