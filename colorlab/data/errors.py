"""What can go wrong on the data path, as exceptions a caller can catch by kind."""

__all__ = ["ChecksumError", "DownloadError", "UnsafeArchiveError"]


class DownloadError(RuntimeError):
    """A file could not be downloaded (offline, unreachable, HTTP error)."""


class ChecksumError(RuntimeError):
    """A file's size or sha256 differs from the published or recorded one."""


class UnsafeArchiveError(RuntimeError):
    """An archive member would be written outside the target folder, or is a link or device."""
