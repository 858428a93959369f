"""The byte layout of Spec/FORMAT.md: one module per Spec table, plus codecs, filters and checksums."""
