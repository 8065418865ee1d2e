"""Training input: random crops of images, as a resumable, process-sharded tf.data pipeline.

Every example is a pure function of ``(seed, global example index)``: which image, where
the crop lies and whether it is flipped come from stateless random ops. Restarting at step
s therefore replays exactly the batches an uninterrupted run would have seen from step s on,
and process p of P reads only its own slice ``[p * B / P, (p + 1) * B / P)`` of each global
batch of B examples.

Sources (``data.train_glob``): one or more comma-separated globs or folders, of which only
image files are read (a folder's SOURCES.md is skipped), or, when empty, the built-in set of
scikit-image's bundled photographs, so training runs on a fresh machine. A crop is drawn
from an image with probability proportional to the image's area, so every pixel of the set
is equally likely to be seen: 500 small BSDS500 photographs beside 49 large ones do not
swamp them by their number.
"""

from __future__ import annotations

import ml_collections
import numpy as np
from PIL import Image

from laplace_codec import images
from laplace_codec.coding import tf_backend


def load_images(config: ml_collections.ConfigDict) -> list[np.ndarray]:
    """All training images as uint8 RGB arrays, each at least ``crop`` on both sides."""
    if config.train_glob:
        paths = images.image_files(config.train_glob)
    else:
        paths = [images.sample_image_path(n) for n in images.SAMPLE_IMAGES]
    out = []
    for path in paths:
        x = images.read_image(path)
        short = min(x.shape[:2])
        if short < config.crop:  # upscale small images so that any crop fits

            scale = config.crop / short
            size = (max(config.crop, round(x.shape[1] * scale)),
                    max(config.crop, round(x.shape[0] * scale)))
            x = np.asarray(Image.fromarray(x).resize(size, Image.BICUBIC))
        out.append(x)
    return out


def make_dataset(config: ml_collections.ConfigDict, seed: int, start_step: int = 0,
                 process_index: int = 0, process_count: int = 1):
    """An iterator of uint8 batches (B / P, crop, crop, 3) for this process, from start_step."""
    tf = tf_backend.tf()
    batch = config.batch_size
    if batch % process_count:
        raise ValueError(f"data.batch_size {batch} is not divisible by {process_count} processes")
    local = batch // process_count
    crop = config.crop
    imgs = load_images(config)
    shapes = tf.constant([x.shape for x in imgs], tf.int64)
    areas = np.array([x.shape[0] * x.shape[1] for x in imgs], np.float64)
    cumulative = tf.constant(np.cumsum(areas) / areas.sum(), tf.float64)
    offsets = tf.constant(np.cumsum([0] + [x.size for x in imgs[:-1]]), tf.int64)
    flat = tf.constant(np.concatenate([x.ravel() for x in imgs]))
    count = len(imgs)

    def example(i):
        # Three independent stateless keys per example: (seed, 3i), (seed, 3i + 1), ...
        key = tf.stack([tf.constant(seed, tf.int64), 3 * i])
        u = tf.random.stateless_uniform([1], key, dtype=tf.float64)
        k = tf.minimum(tf.searchsorted(cumulative, u, side="right",
                                       out_type=tf.int64)[0], count - 1)
        shape = shapes[k]
        img = tf.reshape(flat[offsets[k]:offsets[k] + tf.reduce_prod(shape)], shape)
        img = tf.image.stateless_random_crop(img, [crop, crop, 3], key + [0, 1])
        img = tf.image.stateless_random_flip_left_right(img, key + [0, 2])
        return img

    def global_index(step):
        base = step * batch + process_index * local
        return tf.data.Dataset.range(base, base + local)

    ds = tf.data.Dataset.range(start_step, 2**62).flat_map(global_index)
    ds = ds.map(example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(local, drop_remainder=True).prefetch(2)
    return ds.as_numpy_iterator()
