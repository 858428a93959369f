"""logitstore: read and write stores of a teacher LLM's next-token distributions (Spec/FORMAT.md, version 2).

An independent implementation of the Spec in numpy (zstandard, lz4, xxhash); torch is optional.

    store = logitstore.open("store")          # Store: vocab_size, num_sequences, num_positions, ...
    rec = store.sequence(0)                   # Record: tokens, counts, offsets, ids, probs, target_logprobs
    with logitstore.Writer("out", vocab_size=49152) as w:
        w.add_sequence(tokens, logits=rows)   # numpy or torch [T, V]
"""
from .errors import (ChecksumError, CorruptStoreError, IncompatibleStoreError, InvalidInputError, StoreError,
                     StoreNotFoundError, TargetPolicyError, WriterClosedError)
from .format.layout import FORMAT_VERSION
from .reader import Store, open_store as open
from .record import Record
from .verify import VerifyReport
from .writer import Writer

__version__ = "2.0.0"

__all__ = ["open", "Store", "Record", "Writer", "VerifyReport", "FORMAT_VERSION", "StoreError", "CorruptStoreError",
           "ChecksumError", "InvalidInputError", "IncompatibleStoreError", "StoreNotFoundError", "TargetPolicyError",
           "WriterClosedError"]
