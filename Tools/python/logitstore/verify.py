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
        """True when verify found nothing wrong."""
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
                blk = store.decode_block(s, b, verify=True, content=True)
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
    _check_content(store, report)
    return report


def _check_content(store, report):
    """Per block range: ids distinct within a position, target log-probs not positive (Spec §1.4, §5.2), and for a
    sampled store the sums of §5.1."""
    from .writer import repeated_ids, sampled_rows_problem
    t = store.truncation
    step = 1 << 16
    for start in range(0, store.num_positions, step):
        stop = min(store.num_positions, start + step)
        try:
            rec = store.read(start, stop)
        except StoreError:
            continue  # already reported per block
        where = f"positions {start}..<{stop}"
        pos_of = np.repeat(np.arange(rec.num_positions), rec.counts)
        dup = repeated_ids(rec.ids.astype(np.int64), pos_of)
        if dup is not None:
            report.problems.append(f"content: position {start + int(pos_of[dup])}: id {int(rec.ids[dup])} appears twice")
        if rec.target_logprobs is not None and (rec.target_logprobs > 0).any():
            j = int(np.argmax(rec.target_logprobs > 0))
            report.problems.append(f"content: position {start + j}: positive target log-prob {float(rec.target_logprobs[j])}")
        if t["policy"] == "sample" and rec.num_positions:
            sums = np.add.reduceat(rec.probs.astype(np.float64), rec.offsets[:-1])
            why = sampled_rows_problem(rec.probs, rec.counts, sums, t)
            if why:
                report.problems.append(f"content: {where}: {why}")
