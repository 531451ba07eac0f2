/**
 * What is checked before anything is attached (ADD, `multus attach`): the
 * API's configs checked like our own, every plugin binary present, and no
 * interface name the pod already has.
 */
import { type Attachment, attachmentName } from "../attachment.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { isJsonObject } from "../json.ts";
import { findPlugin } from "../plugin-exec.ts";
import { type CommandContext, pluginDirs } from "./context.ts";

/** `fromApi`: the configs came from the API (NADs), so the validator judges them as it judges our netconf. */
export async function preflight(ctx: CommandContext, attachments: readonly Attachment[], { fromApi }: { fromApi: boolean }): Promise<void> {
  if (fromApi) {
    const { assertValid } = await import("../validate.ts");
    assertValid(
      { attachments: attachments.map((a) => ({ path: attachmentName(a), ifname: a.ifName, config: a.config })) },
      { log: ctx.log },
    );
  }
  const dirs = pluginDirs(ctx);
  for (const a of attachments) {
    // A conflist's plugins, else the conf itself (lib/delegate.ts tells them apart the same way).
    const confs = a.config.type === undefined && Array.isArray(a.config.plugins) ? a.config.plugins : [a.config];
    for (const c of confs) {
      if (!isJsonObject(c)) continue;
      findPlugin(String(c.type), dirs);
      if (isJsonObject(c.ipam) && typeof c.ipam.type === "string") findPlugin(c.ipam.type, dirs);
    }
  }
}

/**
 * A netns that is not there, or an interface name the pod already has,
 * fails before any delegate runs: a delegate's failure would be rolled
 * back with its DEL, which deletes the pod's interface of that name.
 */
export async function refuseTakenNames(ctx: CommandContext, attachments: readonly Attachment[]): Promise<void> {
  const { interfacesPresent } = await import("../netns.ts");
  const present = await interfacesPresent(
    ctx.args.netns,
    attachments.map((a) => a.ifName),
  );
  if (!present) {
    ctx.log.info("interface names not checked: nsenter or ip is not installed");
    return;
  }
  const taken = attachments.filter((a) => present.includes(a.ifName));
  if (!taken.length) return;
  throw new CniError(
    ErrorCode.SandboxFailure,
    `${taken.map((a) => `interface name "${a.ifName}" (network "${attachmentName(a)}")`).join(", ")} already exists in the pod's network namespace ${ctx.args.netns}`,
    "nothing was attached; the existing interface was left untouched",
  );
}
