"""Decoded positions: one sequence or any global position range."""
from dataclasses import dataclass

import numpy as np


@dataclass
class Record:
    """Positions of a store, bit-exact with what `logitstore export` writes for them.

    Alignment contract (Spec §1.1): the distribution at position j predicts tokens[j + 1].
    Position j owns ids[offsets[j]:offsets[j + 1]] and the same range of probs.
    """

    #: Input token ids, uint32 [T].
    tokens: np.ndarray
    #: Kept entries per position, int64 [T].
    counts: np.ndarray
    #: Entry offsets, int64 [T + 1].
    offsets: np.ndarray
    #: Kept ids, uint32 [E], most probable first within a position.
    ids: np.ndarray
    #: Kept probabilities, float16 [E], not re-normalised (top-p-k) or the sampled weights.
    probs: np.ndarray
    #: log p(next token), float32 [T], NaN where unknown; None when the store has no such stream.
    target_logprobs: np.ndarray
    #: The store's target policy (manifest `truncation`).
    truncation: dict

    @property
    def num_positions(self):
        """T."""
        return int(self.tokens.size)

    @property
    def num_entries(self):
        """E."""
        return int(self.ids.size)

    def __len__(self):
        return self.num_positions

    def targets(self, top_p=1.0, top_k=None, temperature=1.0, dropped_mass_bucket=False):
        """Read-time targets (Spec §7.2): (offsets int64 [T+1], ids uint32, probs float32, dropped float32 [T] or
        None). Re-truncates to top_p / top_k, applies τ to the kept set, renormalises or keeps the dropped-mass
        bucket. Refused on a sampled store for p' < 1, k' below a stored count or τ' != 1."""
        from .targets import targets
        return targets(self, top_p=top_p, top_k=top_k, temperature=temperature,
                       dropped_mass_bucket=dropped_mass_bucket)

    @staticmethod
    def concatenate(pieces, truncation, with_targets, copy=True):
        """One record of consecutive pieces (tokens, counts, ids, probs, targets). A single piece is copied unless
        `copy` is False (its arrays are then the record's)."""
        if len(pieces) == 1 and not copy:
            tokens, counts, ids, probs, tl = pieces[0]
        elif len(pieces) == 1:  # copied: the pieces are views of cached blocks
            tokens, counts, ids, probs, tl = (None if a is None else a.copy() for a in pieces[0])
        else:
            tokens = np.concatenate([p[0] for p in pieces]) if pieces else np.zeros(0, np.uint32)
            counts = np.concatenate([p[1] for p in pieces]) if pieces else np.zeros(0, np.int64)
            ids = np.concatenate([p[2] for p in pieces]) if pieces else np.zeros(0, np.uint32)
            probs = np.concatenate([p[3] for p in pieces]) if pieces else np.zeros(0, np.float16)
            tl = (np.concatenate([p[4] for p in pieces]) if pieces else np.zeros(0, np.float32)) if with_targets else None
        offsets = np.empty(counts.size + 1, dtype=np.int64)
        offsets[0] = 0
        np.cumsum(counts, out=offsets[1:])
        return Record(tokens, counts, offsets, ids, probs, tl if with_targets else None, truncation)
