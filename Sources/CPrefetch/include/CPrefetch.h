#ifndef CPREFETCH_H
#define CPREFETCH_H

/// Software prefetch hints for the writer's streaming passes (Swift has no prefetch instruction of its own).
/// Static inline, so the Swift optimiser inlines them to a single prefetch instruction.

/// Asks the CPU to bring the cache line holding `p` into the L2 cache (read, moderate temporal locality).
static inline void logitstore_prefetch_l2(const void *p) { __builtin_prefetch(p, 0, 2); }

#endif
