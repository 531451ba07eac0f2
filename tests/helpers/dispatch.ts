/**
 * Call the plugin in-process, as main.ts does, for tests that need no
 * network namespace: same environment rules as runPlugin, no exec.
 */
import { dispatch } from "../../lib/dispatch.ts";
import { type CniCall, cniEnv, type RunResult } from "./run-plugin.ts";

export async function dispatchCall(call: CniCall): Promise<RunResult> {
  const env = cniEnv(call);
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
