"""Dataset wrapper that applies the corrupt-file policy (``on_corrupt``) of the folder-based datasets.

Policy ``"skip"`` (the default): when the image at index ``i`` cannot be decoded, a warning naming the file is
issued (once per file and process: each DataLoader worker warns on its own) and the sample at ``i + 1`` is returned
instead (then ``i + 2``, ...; wrapping at the end). The dataset length never changes, so the sampler, ``drop_last``
and every batch shape stay exactly as planned, and the substitution is deterministic: the same index always yields
the same substitute. In class-sorted folders the next file is usually of the same class; the substitute's own label
is returned with it, so image and label always agree. After ``MAX_CONSECUTIVE_CORRUPT`` unreadable files in a row
the wrapper gives up with :class:`BrokenDataError` (one line naming the first file; a ``ValueError``, so the
`kamim` commands report it with exit code 2), since that means a broken data set rather than a few bad files.

Policy ``"error"``: the first unreadable file raises :class:`~kamim_lib.data.image_io.CorruptImageError` naming it.
"""
from __future__ import annotations

import warnings

from torch.utils.data import Dataset

from kamim_lib._validation import check_choice
from kamim_lib.data.image_io import CorruptImageError

ON_CORRUPT_CHOICES = ("skip", "error")
# More unreadable files than this in a row means the data set itself is broken: stop instead of scanning on.
MAX_CONSECUTIVE_CORRUPT = 32

# Files already reported by this process (one warning per file, not one per epoch).
_REPORTED_PATHS: set[str] = set()


class CorruptImageWarning(UserWarning):
    """Issued once per unreadable file when ``on_corrupt="skip"``."""


class BrokenDataError(CorruptImageError, ValueError):
    """More than :data:`MAX_CONSECUTIVE_CORRUPT` unreadable files in a row: the data set itself is broken.

    Raised from a DataLoader worker, torch re-creates it in the main process from a message holding the worker's
    whole traceback; the constructor keeps only the original one-line message, so the user sees one line.
    """

    def __init__(self, message: str, path=None):
        super().__init__(_original_message(message, type(self).__name__), path)


def _original_message(message: str, class_name: str) -> str:
    """The raised message inside torch's ``Caught X in DataLoader worker ... Original Traceback ...`` report."""
    if "Original Traceback" not in message:
        return message
    last = next((line for line in reversed(message.splitlines()) if line.strip()), message)
    marker = f"{class_name}: "
    return last.split(marker, 1)[1] if marker in last else last


class SkipCorruptImages(Dataset):
    """Wrap a dataset whose ``__getitem__`` raises :class:`CorruptImageError` for unreadable files.

    Args:
        dataset: the wrapped map-style dataset; its items are passed through unchanged.
        on_corrupt: ``"skip"`` (substitute the next readable sample, warn once per file) or ``"error"``.

    Attributes of the wrapped dataset (``classes``, ``targets``, ``num_classes``, ...) are reachable on the wrapper.
    """

    def __init__(self, dataset: Dataset, *, on_corrupt: str = "skip"):
        check_choice("on_corrupt", on_corrupt, ON_CORRUPT_CHOICES)
        self.dataset = dataset
        self.on_corrupt = on_corrupt

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name: str):
        # Only called for names not found on the wrapper; guard "dataset" so unpickling (before __init__ state is
        # restored) cannot recurse forever.
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __getitem__(self, index: int):
        length = len(self.dataset)
        if not -length <= index < length:
            raise IndexError(f"index {index} is out of range for a dataset of {length} samples.")
        index %= length
        attempts = min(length, MAX_CONSECUTIVE_CORRUPT)
        first = None
        for offset in range(attempts):
            try:
                return self.dataset[(index + offset) % length]
            except CorruptImageError as error:
                if self.on_corrupt == "error":
                    raise
                first = first or error
                _report_once(error)
        reason = " ".join(str(first).split())[:300]
        raise BrokenDataError(
            f"{attempts} consecutive unreadable image files starting at sample {index}, the first: {reason}. The "
            f"data set looks broken (on_corrupt='skip' replaces fewer than {MAX_CONSECUTIVE_CORRUPT} in a row): "
            "check data_root, or fix or remove the files.", first.path)


def _report_once(error: CorruptImageError) -> None:
    key = error.path or str(error)
    if key in _REPORTED_PATHS:
        return
    _REPORTED_PATHS.add(key)
    warnings.warn(f"skipping unreadable image (on_corrupt='skip'; the next sample is used in its place): {error}",
                  CorruptImageWarning, stacklevel=3)
