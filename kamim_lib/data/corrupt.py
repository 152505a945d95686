"""Dataset wrapper that applies the corrupt-file policy (``on_corrupt``) of the folder-based datasets.

Policy ``"skip"`` (the default): when the image at index ``i`` cannot be decoded, a warning naming the file is
issued (once per file and process: each DataLoader worker warns on its own) and the sample at ``i + 1`` is returned
instead (then ``i + 2``, ...; wrapping at the end). The dataset length never changes, so the sampler, ``drop_last``
and every batch shape stay exactly as planned, and the substitution is deterministic: the same index always yields
the same substitute. In class-sorted folders the next file is usually of the same class; the substitute's own label
is returned with it, so image and label always agree. After ``MAX_CONSECUTIVE_CORRUPT`` unreadable files in a row
the wrapper gives up with :class:`BrokenDataError` (one line naming the first file; a ``ValueError``, so the
`kamim` commands report it with exit code 2), since that means a broken data set rather than a few bad files.

Every file skipped while a run trains is also recorded (:func:`recording_skipped_files`, entered by
:func:`kamim_lib.engine.fit`): each process, DataLoader workers included, appends the file's path once to the run's
``unreadable_files.txt``, and the run's ``summary.json`` holds how many files were skipped
(``unreadable_files_skipped``) and the first :data:`LISTED_IN_SUMMARY` of them (``unreadable_files``).

Policy ``"error"``: the first unreadable file raises :class:`~kamim_lib.data.image_io.CorruptImageError` naming it.
"""
from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path

from torch.utils.data import Dataset

from kamim_lib._validation import check_choice
from kamim_lib.data.image_io import CorruptImageError

ON_CORRUPT_CHOICES = ("skip", "error")
# More unreadable files than this in a row means the data set itself is broken: stop instead of scanning on.
MAX_CONSECUTIVE_CORRUPT = 32

# How many skipped files summary.json lists by name (all of them are counted, and named in the record file).
LISTED_IN_SUMMARY = 20

# Files already reported by this process (one warning per file, not one per epoch), and those already recorded in
# each record file.
_REPORTED_PATHS: set[str] = set()
_RECORDED: set[tuple[str, str]] = set()
# Where the wrappers created now record the files they skip (set by recording_skipped_files; None: nowhere).
_RECORD_TO: str | None = None


@contextlib.contextmanager
def recording_skipped_files(path: str | os.PathLike):
    """While active, every :class:`SkipCorruptImages` created records the files it skips in ``path`` (one path per
    line, appended once per file and process; the wrapper keeps the path, so DataLoader workers record too)."""
    global _RECORD_TO
    previous, _RECORD_TO = _RECORD_TO, str(path)
    try:
        yield
    finally:
        _RECORD_TO = previous


def read_skipped_files(path: str | os.PathLike) -> list[str]:
    """The distinct files recorded in ``path`` (in the order first recorded; [] when there is none)."""
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return []
    return list(dict.fromkeys(line for line in lines if line.strip()))


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
        self.record_to = _RECORD_TO

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
                _report_once(error, getattr(self, "record_to", None))
        reason = " ".join(str(first).split())[:300]
        raise BrokenDataError(
            f"{attempts} consecutive unreadable image files starting at sample {index}, the first: {reason}. The "
            f"data set looks broken (on_corrupt='skip' replaces fewer than {MAX_CONSECUTIVE_CORRUPT} in a row): "
            "check data_root, or fix or remove the files.", first.path)


def _report_once(error: CorruptImageError, record_to: str | None = None) -> None:
    key = str(error.path or error)
    if record_to is not None and (record_to, key) not in _RECORDED:
        _RECORDED.add((record_to, key))
        try:
            Path(record_to).parent.mkdir(parents=True, exist_ok=True)
            with open(record_to, "a") as record:  # one short line per write (O_APPEND): processes do not interleave
                record.write(" ".join(key.splitlines()) + "\n")
        except OSError:
            pass  # the count is a report; never fail training over it
    if key in _REPORTED_PATHS:
        return
    _REPORTED_PATHS.add(key)
    warnings.warn(f"skipping unreadable image (on_corrupt='skip'; the next sample is used in its place): {error}",
                  CorruptImageWarning, stacklevel=3)
