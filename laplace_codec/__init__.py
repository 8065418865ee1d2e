"""laplace_codec: a learned image codec in JAX/Flax implementing "Laplacian-guided Entropy
Model in Neural Codec with Blur-dissipated Synthesis" (Khoshkhahtinat et al., CVPR 2024).

    import laplace_codec
    codec = laplace_codec.load("runs/test")       # a training workdir or checkpoint step
    data = codec.compress(image)                  # uint8 RGB (H, W, 3) -> bytes of a .lgc file
    image_hat = codec.decompress(data)            # -> uint8 RGB (H, W, 3)
"""

from laplace_codec import allocator, xla_cpu

xla_cpu.prefer_narrow_vectors()  # before JAX starts its backend: see xla_cpu.py
allocator.keep_freed_memory()  # before XLA's threads allocate: see allocator.py

from laplace_codec.api import load  # noqa: E402
from laplace_codec.coding.codec import Codec, enable_compilation_cache  # noqa: E402
from laplace_codec.errors import (  # noqa: E402
                                  CheckpointError,
                                  FormatError,
                                  InputError,
                                  LaplaceCodecError,
                                  ModelMismatchError,
)
from laplace_codec.images import ConversionWarning  # noqa: E402

__version__ = "0.5.6"
__all__ = ["Codec", "load", "enable_compilation_cache", "CheckpointError", "FormatError", "InputError",
           "LaplaceCodecError", "ModelMismatchError", "ConversionWarning", "__version__"]
