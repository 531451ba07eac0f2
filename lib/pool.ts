/** Concurrency with a bound: what "parallel" may start at once. */

/**
 * Run `fn` over `items`, at most `limit` at a time, each started as soon as
 * a slot frees up. Settles like Promise.allSettled: every item runs, and
 * the outcomes come back in item order.
 */
export async function settleBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const outcomes: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      try {
        outcomes[i] = { status: "fulfilled", value: await fn(items[i], i) };
      } catch (reason) {
        outcomes[i] = { status: "rejected", reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return outcomes;
}
