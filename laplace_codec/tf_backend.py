"""The one place TensorFlow is imported (range coding ops, tf.data, tf.image metrics).

TensorFlow is kept off accelerators so it never takes memory JAX needs, and imported lazily
so commands that do not need it start faster.
"""

from __future__ import annotations

import functools
import os


@functools.cache
def tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow

    tensorflow.config.set_visible_devices([], "GPU")
    return tensorflow


@functools.cache
def compression_ops():
    tf()
    import tensorflow_compression_ops

    return tensorflow_compression_ops
