/** Small shell-script plugins for tests, in a temp dir searched before the reference plugins. */
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Tap, tempDir } from "./netns.ts";
import { CNI_BIN } from "./run-plugin.ts";

/** Write each `name: body` as an executable `#!/bin/sh` script; returns the CNI_PATH to use (the dir, then CNI_BIN). */
export function fakeBin(t: Tap, plugins: Record<string, string>): string {
  const dir = tempDir(t);
  for (const [name, body] of Object.entries(plugins)) {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  }
  return `${dir}:${CNI_BIN}`;
}

/** A plugin that succeeds for every verb (a minimal result for ADD), appending "<verb> <CNI_IFNAME>" to `log`. */
export const recorder = (log: string, result = '{"cniVersion":"1.0.0"}'): string =>
  `echo "$CNI_COMMAND $CNI_IFNAME" >> ${log}; cat > /dev/null; [ "$CNI_COMMAND" = ADD ] && echo '${result}'; exit 0`;
