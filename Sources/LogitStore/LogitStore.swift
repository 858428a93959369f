// The LogitStore module. See ../../../shared/ARCHITECTURE.md for its place.
