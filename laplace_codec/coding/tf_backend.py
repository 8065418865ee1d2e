"""The one place TensorFlow is imported (range coding ops, tf.data, tf.image metrics).

TensorFlow is kept off accelerators so it never takes memory JAX needs, and imported lazily
so commands that do not need it start faster.
"""

from __future__ import annotations

import functools
import os


@functools.cache
def tf():
    # JAX sets this to 1 on import, which lets TensorFlow print CUDA-plugin registration
    # errors on every start; they are noise here (TF runs on the CPU only).
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = os.environ.get("LAPLACE_CODEC_TF_LOG_LEVEL", "3")
    import tensorflow  # 4 s to import: only the range coder and MS-SSIM pay for it

    tensorflow.config.set_visible_devices([], "GPU")
    return tensorflow


@functools.cache
def compression_ops():
    tf()
    import tensorflow_compression_ops  # needs TensorFlow imported first (above)

    return tensorflow_compression_ops
