"""The format's one hash: XXH3-64 with seed 0 (Spec §4.7)."""
import xxhash


def xxh3(data):
    """XXH3-64 (seed 0) of a bytes-like object, as an int."""
    return xxhash.xxh3_64_intdigest(data)


def hex64(value):
    """16 lower-case hexadecimal digits of a u64 (the manifest's `xxh3` spelling)."""
    return f"{value:016x}"


class Streaming:
    """Incremental XXH3-64 (seed 0) over bytes written one piece after another."""

    def __init__(self):
        self._h = xxhash.xxh3_64()

    def update(self, data):
        """Adds `data` to the hash."""
        self._h.update(data)

    def digest(self):
        """The hash of everything added so far, as an int."""
        return self._h.intdigest()
