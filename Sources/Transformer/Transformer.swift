// The Transformer module. See ../../../shared/ARCHITECTURE.md for its place.
