// The README's troubleshooting table is generated from the source: it must be current.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import t from "tap";
import { ROOT } from "./helpers/run-plugin.ts";

t.test("README troubleshooting table lists every error message in lib/", async (t) => {
  t.doesNotThrow(() => execFileSync(process.execPath, [join(ROOT, "scripts/errors-doc.mjs"), "--check"], { stdio: "pipe" }));
});
