/**
 * The same file run by a person (no CNI_COMMAND): a small CLI.
 * Each subcommand has --help. Heavy parts load only when used.
 */
import { SUPPORTED_VERSIONS } from "../cni/version.ts";
import { DEFAULT_CNI_DIR } from "../netconf.ts";

declare const MULTUS_VERSION: string | undefined;

export const PRODUCT_VERSION: string = typeof MULTUS_VERSION === "string" ? MULTUS_VERSION : "0.0.0-dev";

export const USAGE = `multus ${PRODUCT_VERSION}: a meta CNI plugin that attaches several networks to one pod.

It is run by the container runtime with CNI_COMMAND (ADD, DEL, CHECK, STATUS,
GC, VERSION) and the network config on stdin. Copy this one file into the
runtime's plugin dir (usually /opt/cni/bin) and name it as "type" in a config.

Commands for a person:
  multus install     copy this file into the CNI bin dir and make it the first network config
                     (a re-run keeps the delegates you added)
  multus uninstall   undo install
  multus status      list the attachments cached on this node
  multus validate    lint netconfs, conflists and YAML manifests (NADs, Network objects, pods)
  multus doctor      check this node: config order, plugins, cache dir, API, CRD, RBAC
  multus version     the plugin's version and the CNI versions it speaks
  multus COMMAND --help

Example (legacy delegates mode):
  echo '{"cniVersion":"1.0.0","name":"multi","type":"multus","delegates":[
          {"type":"bridge","bridge":"br0","ipam":{"type":"host-local","subnet":"10.10.0.0/24"}},
          {"type":"ptp","ipam":{"type":"host-local","subnet":"10.11.0.0/24"}}]}' |
  CNI_COMMAND=ADD CNI_CONTAINERID=demo CNI_NETNS=/run/netns/demo CNI_IFNAME=eth0 \\
  CNI_PATH=/opt/cni/bin multus

CNI protocol versions supported: ${SUPPORTED_VERSIONS.join(", ")}
`;

const HELP: Record<string, string> = {
  install: `usage: multus install [--bin-dir DIR] [--conf-dir DIR] [--conf-name NAME] [--kubeconfig PATH] [--dry-run] [--force]

Copies this file to DIR/multus (default /opt/cni/bin) atomically, finds the
node's current default network config (the first .conf/.conflist/.json by
name in the conf dir, default /etc/cni/net.d, that is not multus) and writes
NAME there (default 00-multus.conf), delegating to it: Kubernetes mode when
--kubeconfig is given, delegates mode otherwise.

Running it again regenerates only the cluster network (delegates[0]) from the
current default network config; the other delegates and settings you added
to NAME stay, and nothing is rewritten when nothing changed. A NAME that is
not a readable multus config is refused. Another config that sorts before
NAME is an error: the runtime would use it instead. --force writes anyway,
regenerating NAME from scratch (your delegates are dropped). --dry-run prints
what it would do and fails the same way. A bin file that is not this program
is never replaced without --force.
`,
  uninstall: `usage: multus uninstall [--bin-dir DIR] [--conf-dir DIR] [--conf-name NAME] [--dry-run] [--force]

Removes NAME (default 00-multus.conf; only if multus install wrote it) and DIR/multus.
`,
  status: `usage: multus status [--cni-dir DIR]

Lists the containers with cached attachments (default dir ${DEFAULT_CNI_DIR}):
container ID, state, netns and interface=network pairs.
`,
  doctor: `usage: multus doctor [--bin-dir DIR] [--conf-dir DIR] [--kubeconfig PATH]

Checks the node and prints one line per check, with a fix for each failure:
is multus the first config in the conf dir (default /etc/cni/net.d); is every
plugin it delegates to in the bin dir (default /opt/cni/bin); is the cache dir
writable; with a kubeconfig (given, or from the multus config): is it
readable, is the API reachable, is the NetworkAttachmentDefinition CRD
installed, and does RBAC allow what the plugin needs. Exit code 1 when a
check fails.
`,
  validate: `usage: multus validate FILE...

Checks each file with the validator the plugin runs before attaching
anything: a netconf (.conf/.json with "delegates" or "kubeconfig"), a CNI
conf or conflist, or YAML manifests holding NetworkAttachmentDefinitions,
legacy Network objects and pods (their network annotations). Prints every
problem as FILE: OBJECT: FIELD: MESSAGE. Exit code 1 when there is an error.
`,
  version: "usage: multus version\n",
};

export type CliAnswer = { stdout: string; stderr?: string; exitCode: number } | undefined;

interface Flags {
  values: Map<string, string>;
  bools: Set<string>;
  rest: string[];
}

function parseFlags(args: readonly string[], valued: string[], boolean: string[]): Flags {
  const f: Flags = { values: new Map(), bools: new Set(), rest: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const [name, inline] = a.startsWith("--") ? a.slice(2).split(/=(.*)/s, 2) : [undefined, undefined];
    if (name !== undefined && valued.includes(name)) {
      const v = inline ?? args[++i];
      if (v === undefined) throw new Error(`--${name} needs a value`);
      f.values.set(name, v);
    } else if (name !== undefined && boolean.includes(name)) f.bools.add(name);
    else if (a.startsWith("-")) throw new Error(`unknown option ${a}`);
    else f.rest.push(a);
  }
  return f;
}

const ok = (lines: string[]): CliAnswer => ({ stdout: lines.length ? `${lines.join("\n")}\n` : "", exitCode: 0 });

/** Handle a person's invocation; undefined means "not a human invocation". */
export async function cli(argv: readonly string[]): Promise<CliAnswer> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) return undefined;
  if (cmd === "--help" || cmd === "-h" || cmd === "help") return { stdout: USAGE, exitCode: 0 };
  if (args.includes("--help") || args.includes("-h")) {
    const h = HELP[cmd];
    return h ? { stdout: h, exitCode: 0 } : { stdout: "", stderr: `unknown command "${cmd}"\n\n${USAGE}`, exitCode: 2 };
  }
  try {
    switch (cmd) {
      case "version":
      case "--version":
      case "-v":
        return { stdout: `multus ${PRODUCT_VERSION} (CNI ${SUPPORTED_VERSIONS.join(", ")})\n`, exitCode: 0 };
      case "install":
      case "uninstall": {
        const f = parseFlags(args, ["bin-dir", "conf-dir", "conf-name", "kubeconfig"], ["dry-run", "force"]);
        if (f.rest.length) throw new Error(`unexpected argument ${f.rest[0]}`);
        const m = await import("./install.ts");
        const confName = f.values.get("conf-name");
        const common = {
          binDir: f.values.get("bin-dir") ?? "/opt/cni/bin",
          confDir: f.values.get("conf-dir") ?? "/etc/cni/net.d",
          ...(confName !== undefined ? { confName } : {}),
          dryRun: f.bools.has("dry-run"),
          force: f.bools.has("force"),
        };
        if (cmd === "uninstall") {
          if (f.values.has("kubeconfig")) throw new Error("uninstall takes no --kubeconfig");
          return ok(m.uninstall(common));
        }
        const kubeconfig = f.values.get("kubeconfig");
        return ok(m.install({ ...common, ...(kubeconfig ? { kubeconfig } : {}), self: m.selfPath(), version: PRODUCT_VERSION }));
      }
      case "validate": {
        const f = parseFlags(args, [], []);
        if (f.rest.length === 0) throw new Error("name at least one file (multus validate --help)");
        const { validateFile, formatFinding } = await import("./validate.ts");
        const findings = f.rest.flatMap(validateFile);
        const errors = findings.filter((x) => x.severity === "error").length;
        const lines = findings.map(formatFinding);
        lines.push(errors ? `${errors} problem(s) in ${f.rest.length} file(s)` : `${f.rest.length} file(s) valid`);
        return { stdout: `${lines.join("\n")}\n`, exitCode: errors ? 1 : 0 };
      }
      case "doctor": {
        const f = parseFlags(args, ["bin-dir", "conf-dir", "kubeconfig"], []);
        const { doctor } = await import("./doctor.ts");
        const kubeconfig = f.values.get("kubeconfig");
        const r = await doctor({
          binDir: f.values.get("bin-dir") ?? "/opt/cni/bin",
          confDir: f.values.get("conf-dir") ?? "/etc/cni/net.d",
          ...(kubeconfig ? { kubeconfig } : {}),
        });
        return { stdout: `${r.lines.join("\n")}\n`, exitCode: r.ok ? 0 : 1 };
      }
      case "status": {
        const f = parseFlags(args, ["cni-dir"], []);
        const { status } = await import("./status.ts");
        return ok(status(f.values.get("cni-dir") ?? DEFAULT_CNI_DIR));
      }
      default:
        return { stdout: "", stderr: `unknown command "${cmd}"\n\n${USAGE}`, exitCode: 2 };
    }
  } catch (e) {
    return { stdout: "", stderr: `multus ${cmd}: ${(e as Error).message}\n`, exitCode: 1 };
  }
}
