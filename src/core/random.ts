/**
 * Seeded randomness for the core and the simulator, from pure-rand's xoroshiro128+: identical on every platform, so
 * a seed replays exactly.
 */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomSource } from './types.js';

export function seededRandom(seed: number): RandomSource {
  const generator = xoroshiro128plus(seed);
  return () => uniformFloat64(generator);
}
