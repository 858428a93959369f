// The Teacher module. See ../../../shared/ARCHITECTURE.md for its place.
