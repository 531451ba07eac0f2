/**
 * Call the plugin in-process, as main.ts does, for tests that need no
 * network namespace: same environment rules as runPlugin, no exec.
 */
import { dispatch } from "../../lib/dispatch.ts";
import { CNI_BIN, type CniCall, type RunResult } from "./run-plugin.ts";

export async function dispatchCall(call: CniCall): Promise<RunResult> {
  const env: Record<string, string | undefined> = {
    CNI_COMMAND: call.command,
    CNI_CONTAINERID: call.containerId,
    CNI_NETNS: call.netns,
    CNI_IFNAME: call.ifName ?? "eth0",
    CNI_ARGS: call.args,
    CNI_PATH: call.path ?? CNI_BIN,
    ...call.env,
  };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const stdin = typeof call.stdin === "string" ? call.stdin : JSON.stringify(call.stdin);
  const reply = await dispatch(env, () => Buffer.from(stdin));
  let json: Record<string, unknown> | undefined;
  try {
    json = reply.stdout.trim() ? JSON.parse(reply.stdout) : undefined;
  } catch {
    json = undefined;
  }
  return { code: reply.exitCode, stdout: reply.stdout, stderr: "", json };
}
