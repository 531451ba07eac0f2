/**
 * A test that needs a tool this machine may lack: in CI (env CI set) the lack
 * is a failure, since a skipped check must not count as passed; on a
 * developer's machine it is a visible SKIP.
 */
import t from "tap";

export function unavailable(why: string): void {
  if (process.env.CI) t.fail(why);
  else t.skip(`SKIP: ${why}`, () => {});
}
