/**
 * The seed of a randomized test that runs real processes (the crash test, the Jepsen run inside `npm test`): taken
 * from `XRAFT_SEED` when set, otherwise derived from the clock for this run. The test prints it when it starts, and
 * every failure message starts with it and with the command that reruns the test on it.
 */

export interface TestSeed {
  readonly seed: number;
  /** The command that reruns this test with this seed. */
  readonly rerun: string;
}

/** Pick and print the seed of the test in `file` (a path relative to the repository, for the rerun command). */
export function testSeed(file: string): TestSeed {
  const fromEnvironment = process.env.XRAFT_SEED;
  let seed: number;
  if (fromEnvironment === undefined || fromEnvironment === '') {
    seed = Date.now() % 2 ** 31;
  } else {
    seed = Number(fromEnvironment);
    if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`XRAFT_SEED must be a non-negative integer, not ${JSON.stringify(fromEnvironment)}`);
  }
  const rerun = `XRAFT_SEED=${seed} npx vitest run ${file}`;
  console.log(`${file}: seed ${seed} (${fromEnvironment === undefined || fromEnvironment === '' ? 'from the clock' : 'from XRAFT_SEED'}); rerun: ${rerun}`);
  return { seed, rerun };
}

/** Run `body`; whatever it throws (an assertion, a timeout) leaves with the seed and the rerun command first. */
export async function withSeed<T>({ seed, rerun }: TestSeed, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof Error) error.message = `seed ${seed} (rerun: ${rerun})\n${error.message}`;
    throw error;
  }
}
