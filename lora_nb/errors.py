"""User-facing errors.

Every problem a learner can cause (a missing folder, a bad config value, a broken image) raises
a `LoraNbError` whose message says what is wrong and how to fix it. The CLI prints it as one
line and exits non-zero; notebooks show it without a traceback wall.
"""


class LoraNbError(Exception):
    """A problem with the user's input, explained in plain words with the fix."""


class ConfigError(LoraNbError, ValueError):
    """A config field is missing, unknown, of the wrong type or out of range."""


class DatasetError(LoraNbError):
    """The training images or captions cannot be used as they are."""


class ModelLoadError(LoraNbError):
    """A base model or LoRA file cannot be found or is not in a format we load."""


class TrainingDiverged(LoraNbError):
    """The loss became NaN/inf; the last good checkpoint is kept."""


class StorageError(LoraNbError):
    """A file or folder cannot be read or written: not a folder, read-only, not writable, or the disk is full."""
