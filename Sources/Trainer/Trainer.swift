// The Trainer module. See ../../../shared/ARCHITECTURE.md for its place.
