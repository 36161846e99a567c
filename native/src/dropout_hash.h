// Dropout's counter-based random stream, shared by the generic and AVX2 spans: element i is kept when the
// top 24 bits of Triple32(i·φ + key) are ≥ drop24, key = Triple32(seed ^ φ). So the same seed gives the
// same mask on any thread count and span width, and the backward pass re-derives the mask instead of
// keeping it (for attention probabilities that mask is as large as the probabilities).
#pragma once
#include <stdint.h>

#define kDropoutGolden 0x9e3779b9u

// Chris Wellons' "triple32" integer hash (bias ≈ 0.021, near the best known for 32-bit mixers): a bijection,
// cheap, and good enough that consecutive counters give independent-looking bits.
static inline uint32_t DropoutTriple32(uint32_t x) {
  x ^= x >> 17;
  x *= 0xed5ad4bbu;
  x ^= x >> 11;
  x *= 0xac4c1b51u;
  x ^= x >> 15;
  x *= 0x31848babu;
  x ^= x >> 14;
  return x;
}

// Hashed once, so nearby seeds (consecutive dropout calls) start unrelated streams.
static inline uint32_t DropoutKey(uint32_t seed) { return DropoutTriple32(seed ^ kDropoutGolden); }
