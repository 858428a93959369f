"""Typed errors. Every message is one bounded line naming the file, shard, block or input row concerned."""

_LIMIT = 300


def elide(text, limit=96):
    """`text` cut to at most `limit` characters, with an ellipsis marking the cut."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


class StoreError(Exception):
    """Base class of every error this package raises about a store or its input."""

    def __init__(self, message):
        message = " ".join(str(message).split())
        super().__init__(elide(message, _LIMIT))


class InvalidInputError(StoreError, ValueError):
    """Caller input was rejected before anything of it was committed (wrong shape, NaN, ids >= V, ...)."""


class IncompatibleStoreError(StoreError):
    """A store or options that do not fit together: another format version, vocabulary, policy or teacher."""


class StoreNotFoundError(StoreError, FileNotFoundError):
    """The store directory, its manifest or a listed shard is missing."""


class CorruptStoreError(StoreError):
    """A shard or manifest breaks the format or fails a checksum; the damaged data is never returned.

    `file` names the shard (or manifest), `block` the block index when the damage is inside one block.
    """

    def __init__(self, file, detail, block=None):
        self.file = file
        self.block = block
        where = elide(file) + ("" if block is None else f" block {block}")
        super().__init__(f"corrupt store: {where}: {detail}")


class ChecksumError(CorruptStoreError):
    """An XXH3-64 checksum did not match: the bytes are damaged."""

    def __init__(self, file, what, block=None):
        super().__init__(file, f"{what} checksum mismatch (XXH3-64 differs; data is damaged)", block)


class TargetPolicyError(StoreError, ValueError):
    """Read-time options the store's target policy does not allow (re-truncating or tempering a sampled store)."""


class WriterClosedError(StoreError):
    """The writer was used after close() or after a failed commit."""

    def __init__(self):
        super().__init__("writer is closed (close() was called or a commit failed)")
