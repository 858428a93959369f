"""`verify`: every shard's whole-file XXH3-64 against the manifest, every block's checksum and full decode
(all the checks of `format.block.decode`), and every `*.lgs` file in the store directory that the manifest does
not list (format v2: an error). Collects every problem instead of stopping at the first."""
import os
from dataclasses import dataclass, field

import numpy as np

from .errors import StoreError
from .format.checksum import Streaming, hex64
from .format.layout import SHARD_EXTENSION


@dataclass
class VerifyReport:
    """What verify checked and found; `problems` holds one line per failure (empty when the store is intact)."""

    shards: int = 0
    blocks: int = 0
    positions: int = 0
    entries: int = 0
    bytes: int = 0
    problems: list = field(default_factory=list)

    @property
    def ok(self):
        return not self.problems


def verify_store(store):
    """The `VerifyReport` of an open `Store`."""
    report = VerifyReport()
    for s, shard in enumerate(store.shards):
        report.shards += 1
        h = Streaming()
        step = 1 << 22
        for off in range(0, len(shard.buf), step):
            h.update(shard.buf[off:off + step])
        if hex64(h.digest()) != shard.entry.xxh3:
            report.problems.append(f"checksum mismatch: {shard.name}: whole file (manifest {shard.entry.xxh3}, "
                                   f"file {hex64(h.digest())})")
        for b in range(int(shard.index.blocks)):
            report.blocks += 1
            try:
                blk = store.decode_block(s, b, verify=True)
                report.positions += int(blk.tokens.size)
                report.entries += int(blk.ids.size)
            except StoreError as e:
                report.problems.append(str(e))
        report.bytes += len(shard.buf)
    listed = {os.path.normpath(os.path.join(store.path, e.file)) for e in store.manifest.shards}
    for name in sorted(os.listdir(store.path)):
        if name.endswith(SHARD_EXTENSION) and not name.startswith("."):
            if os.path.normpath(os.path.join(store.path, name)) not in listed:
                report.problems.append(f"unlisted shard: {name} is in the store directory but not in the manifest")
    if store.is_sampled:
        _check_sampled(store, report)
    return report


def _check_sampled(store, report):
    """Sampled stores: Σ probs = 1 within n·2^-11; with counts weights every prob is a multiple of 1/N and Σ = 1."""
    t = store.truncation
    n_samples = t["samples"]
    step = 1 << 16
    for start in range(0, store.num_positions, step):
        try:
            rec = store.read(start, min(store.num_positions, start + step))
        except StoreError:
            continue  # already reported per block
        p = rec.probs.astype(np.float64)
        sums = np.add.reduceat(p, rec.offsets[:-1]) if p.size else np.zeros(0)
        if t["weights"] == "counts":
            scaled = p * n_samples
            if (scaled != np.round(scaled)).any() or (sums != 1).any():
                report.problems.append(f"sampled store: positions from {start} have counts weights that are not "
                                       f"multiples of 1/{n_samples} summing to 1")
        elif (np.abs(sums - 1) > rec.counts * 2.0 ** -11).any():
            report.problems.append(f"sampled store: positions from {start} have weights not summing to 1")
