"""The exception types users of the library and the CLI see."""


class LaplaceCodecError(Exception):
    """Base class: every error the library raises on purpose derives from it.

    The CLI prints ``str(error)`` as one line on stderr and exits with status 2.
    """


class FormatError(LaplaceCodecError):
    """A compressed file is malformed, truncated, corrupted or decodes out of sync."""


class ModelMismatchError(LaplaceCodecError):
    """A file was written by a different model than the one asked to decode it."""


class CheckpointError(LaplaceCodecError):
    """A checkpoint is missing, incomplete, or lacks the coding tables."""


class InputError(LaplaceCodecError, ValueError):
    """An input image or argument cannot be used; the message says what to do."""
