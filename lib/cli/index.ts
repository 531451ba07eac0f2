/**
 * The same file run by a person (no CNI_COMMAND): a small CLI.
 * Each subcommand has --help. Heavy parts load only when used.
 */

import { existsSync } from "node:fs";
import { SUPPORTED_VERSIONS } from "../cni/version.ts";
import { DEFAULT_CNI_DIR } from "../netconf.ts";
import { type ParsedArgs, parseCommandArgs, UsageError } from "./args.ts";

declare const MULTUS_VERSION: string | undefined;

export const PRODUCT_VERSION: string = typeof MULTUS_VERSION === "string" ? MULTUS_VERSION : "0.0.0-dev";

export const USAGE = `multus ${PRODUCT_VERSION}: a meta CNI plugin that attaches several networks to one pod.

It is run by the container runtime with CNI_COMMAND (ADD, DEL, CHECK, STATUS,
GC, VERSION) and the network config on stdin. Copy this one file into the
runtime's plugin dir (usually /opt/cni/bin) and name it as "type" in a config.

Commands for a person:
  multus install     copy this file into the CNI bin dir and make it the first network config
                     (adopts upstream Multus's config in place; a re-run keeps the delegates you added)
  multus uninstall   undo install
  multus status      list the attachments cached on this node
  multus attach      add a network to a running pod (as root, on its node)
  multus detach      remove a network from a running pod
  multus explain     what an ADD would do for a pod: networks, interfaces, final configs, problems
  multus validate    lint netconfs, conflists and YAML manifests (NADs, Network objects, pods)
  multus doctor      check this node: config order, the validator, plugins, cache dir, API, CRD, RBAC
  multus version     the plugin's version and the CNI versions it speaks
  multus COMMAND --help

status, validate, doctor, install, attach, detach and explain take --json: one JSON object on stdout
(docs/reference.md, "Command-line interface", has each schema).
Exit codes: 0 done, nothing wrong; 1 a problem found (validate, doctor,
explain) or the command refused or failed (install, uninstall, attach,
detach); 2 a usage mistake (an unknown command or option, a missing or
malformed value).

Example (legacy delegates mode):
  echo '{"cniVersion":"1.0.0","name":"multi","type":"multus","delegates":[
          {"type":"bridge","bridge":"br0","ipam":{"type":"host-local","subnet":"10.10.0.0/24"}},
          {"type":"ptp","ipam":{"type":"host-local","subnet":"10.11.0.0/24"}}]}' |
  CNI_COMMAND=ADD CNI_CONTAINERID=demo CNI_NETNS=/run/netns/demo CNI_IFNAME=eth0 \\
  CNI_PATH=/opt/cni/bin multus

CNI protocol versions supported: ${SUPPORTED_VERSIONS.join(", ")}
`;

const HELP: Record<string, string> = {
  install: `usage: multus install [--bin-dir DIR] [--conf-dir DIR] [--conf-name NAME] [--dry-run] [--force] [--json]
                      [--kubeconfig PATH | --generate-kubeconfig [--service-account-dir DIR]]
                      [--readiness-indicator-file PATH [--readiness-timeout SECONDS]] [--cluster-network-conf FILE]
                      [--namespace-isolation[=true|false]] [--global-namespaces NS,...]
                      [--log-level LEVEL] [--log-file PATH] [--log-to-stderr[=true|false]]
                      [--additional-bin-dir DIR] [--cni-version VERSION]
                      [--watch [--cleanup-on-exit] [--rescan-interval SECONDS]]

Copies this file to DIR/multus (default /opt/cni/bin, which must exist: install
creates neither dir) atomically, finds the
node's current default network config (the first .conf/.conflist/.json by
name in the conf dir, default /etc/cni/net.d, that is not a multus config)
and writes our conf there, delegating to it: Kubernetes mode when
--kubeconfig is given, delegates mode otherwise.

Our conf is the first multus config in the conf dir, whoever wrote it
(upstream Multus's 00-multus.conf, its 00-multus.conflist, its thick
plugin's multus-shim conf, or ours), adopted in place: same name, same
shape (a conflist stays one, with multus as plugins[0]), its settings and
delegates kept. With none there, NAME (default 00-multus.conf; a name
ending in .conflist writes a conflist). Any other multus config is set
aside as FILE.old. A config with a multus plugin anywhere in it is never
taken as the cluster network.

Running it again regenerates only the cluster network (delegates[0]) from the
current default network config; the other delegates and settings you added
stay, and nothing is rewritten when nothing changed. A conf that is not a
readable multus config is refused. Another config that sorts before ours
is an error: the runtime would use it instead. A FIFO, device or oversized
file in the conf dir is never read: sorting first it is refused, otherwise
skipped with a warning. --force writes anyway: it replaces a conf that is
not a readable multus config with a fresh one, writes despite the order
(with a warning), and replaces a bin file that is not this program. A
readable multus config is always merged, --force or not. --dry-run prints
what it would do and fails the same way. DIR/multus is replaced without
--force when it is this program (any version) or upstream Multus (told
apart by its Go build info, never run).

Settings written into the conf. Given, each replaces the conf's value; not
given, the conf keeps what it has:
--namespace-isolation[=true|false]   "namespaceIsolation": pods use only
    networks of their own namespace and of --global-namespaces
--global-namespaces NS,...   "globalNamespaces" (default when unset: default)
--log-level LEVEL   "logLevel": debug, verbose, info, error or panic
--log-file PATH   "logFile"
--log-to-stderr[=true|false]   "logToStderr"
--additional-bin-dir DIR   "binDir": searched for delegate plugins first
--cni-version VERSION   "cniVersion" of our conf (default: the cluster
    network's, and it follows the cluster network while not set)
--cluster-network-conf FILE   delegate to FILE in the conf dir instead of the
    first non-multus config (upstream's --multus-master-cni-file-name); it is
    remembered in the conf: --cluster-network-conf= goes back to the first

--readiness-indicator-file PATH
    Wait until PATH exists (the cluster network writes it once it is up)
    before writing anything, saying so on stderr every 5 seconds, and write
    it into our conf as "readinessindicatorfile", so that every ADD waits
    for it too. --dry-run does not wait.
--readiness-timeout SECONDS
    Give up waiting after SECONDS (exit code 1, nothing written). Without
    it install waits as long as it takes (the DaemonSet's way).
--json
    Print what was done (with --dry-run: what would be) as one JSON object:
    the bin file, the conf with its full content, files set aside, warnings.
    Not with --watch.
--generate-kubeconfig
    Write the plugin's kubeconfig, CONFDIR/multus.d/multus.kubeconfig, from
    this pod's service account (the DaemonSet): the API server from
    KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT, its CA inline, and
    "tokenFile: CONFDIR/multus.d/token", a copy of the token. Both files are
    mode 0600 and written atomically; our conf's "kubeconfig" points at it.
    --service-account-dir DIR holds token, ca.crt and namespace (default
    /var/run/secrets/kubernetes.io/serviceaccount). Paths are written as this
    process sees the conf dir: mount the node's conf dir at its own path.
--watch
    Keep running (the DaemonSet's main process). After the install, whenever
    the cluster network's config (the first non-multus one) is rewritten,
    replaced, renamed or another one sorts before it, regenerate
    delegates[0] as a re-run would: the delegates and settings you added
    stay. A config that is half written, or no cluster config at all, leaves
    our conf as it is. With --generate-kubeconfig the token copy is rewritten
    when the service account token rotates. The conf dir is watched, and
    re-scanned every --rescan-interval seconds (default 10). One line per
    action on stderr. An install that fails (a refusal, a write error) ends
    it with exit code 1, so that the pod restarts and shows it. SIGTERM or
    SIGINT ends it with exit code 0.
--cleanup-on-exit
    With --watch: on SIGTERM or SIGINT remove our conf and the generated
    kubeconfig and token, so that the node is not left pointing at
    credentials that end with the pod. DIR/multus stays: DEL of running pods
    still needs it.
`,
  uninstall: `usage: multus uninstall [--bin-dir DIR] [--conf-dir DIR] [--conf-name NAME] [--dry-run] [--force]

Removes our conf (NAME, default: the first multus config in the conf dir;
only if multus install wrote it) and DIR/multus, and the kubeconfig and
token that install --generate-kubeconfig wrote. A conf holding delegates
added by hand is kept as NAME.bak. Refused, and nothing removed, while
containers still have a cache record in the conf's cniDir (default
${DEFAULT_CNI_DIR}; upstream Multus's records count too): their DEL runs
DIR/multus. --force removes anyway, also files multus install did not write.
`,
  status: `usage: multus status [--cni-dir DIR] [--json]

Lists the containers with cached attachments (default dir ${DEFAULT_CNI_DIR}):
container ID, state, netns and interface=network pairs. --json prints them
as one JSON object. Exit code 0 (also when there are none).
`,
  doctor: `usage: multus doctor [--bin-dir DIR] [--conf-dir DIR] [--kubeconfig PATH] [--json]

Checks the node and prints one line per check, with a fix for each failure:
is multus the first config in the conf dir (default /etc/cni/net.d); does
the validator accept that config and every delegate (multus validate's
checks); is a delegate itself a multus config (multus inside multus); is a
file in the conf dir a FIFO or device, or a second multus config; is
DIR/multus (default /opt/cni/bin) this program or upstream Multus, and is
every plugin it delegates to there; can the cache dir be written; with a
kubeconfig (given, or from the multus config): is it readable, is the API
reachable, is the NetworkAttachmentDefinition CRD installed, and does RBAC
allow what the plugin needs. A check only looks: nothing on the node is
written or created. --json prints the checks as one JSON object. Exit code 1
when a check fails ("warn" lines do not).
`,
  validate: `usage: multus validate [--json] FILE|DIR...

Checks each file with the validator the plugin runs before attaching
anything: a netconf (.conf/.json with "delegates" or "kubeconfig"), a CNI
conf or conflist, or YAML manifests holding NetworkAttachmentDefinitions,
legacy Network objects and pods (their network annotations). A DIR stands
for its .conf, .conflist, .json, .yaml and .yml files, subdirs included.
Prints every problem as FILE:LINE:COLUMN: OBJECT: FIELD: MESSAGE (the line
and column of the value the rule rejects, or of a syntax error). Files
given together are checked together: each pod is resolved as its ADD would
be (without a cluster) against the NADs, Network objects and multus netconf
among the files, when they hold any NAD: a NAD name not there, two networks
on one interface, a resourceName no container requests, overlapping subnets.
--json prints every problem as one JSON object. Exit code 1 when there is
an error (warnings alone leave it 0).
`,
  attach: `usage: multus attach (--pod NAMESPACE/NAME | --container ID) NETWORK[@IFNAME]
                     [--ip CIDR]... [--mac MAC] [--conf FILE | --conf-dir DIR] [--json]

Adds a network to a running pod on this node (run it as root there). The
netconf is the node's: the first multus config in the conf dir (default
/etc/cni/net.d), or --conf FILE. The container is found by its cache
record: --container ID, or --pod NAMESPACE/NAME (the record whose CNI_ARGS
name that pod).

NETWORK in Kubernetes mode is a NetworkAttachmentDefinition, [namespace/]name
(the pod's namespace by default), read from the API with the rules of the
pod's networks annotation: namespace isolation, the NAD's resourceName (the
pod gets one of its devices no other attachment uses). In delegates mode it
is the name of a config in the netconf's confDir, or a conf file. IFNAME
defaults to the first free net<N>. --ip (repeatable) and --mac are what the
annotation's "ips" and "mac" ask: given to plugins with the ips and mac
capabilities, and as IP= and MAC= in CNI_ARGS.

It holds the container's lock (a runtime DEL waits for it), records the
attachment before its delegate runs (a killed attach is cleaned up by the
runtime's DEL), runs the delegate's ADD in the pod's network namespace under
addTimeout, and rolls it back on failure. The runtime's DEL of the pod
removes it like the others. Kubernetes mode: network-status is rewritten
(one write) and an AddedInterface event posted. Refused, with nothing
attached: no record for the container, an ADD or attach that did not
complete, the interface name taken (in the record or in the pod), the
network unknown, the pod's network namespace gone. --json prints what was
attached as one JSON object. Exit code 1 when refused or failed.
`,
  detach: `usage: multus detach (--pod NAMESPACE/NAME | --container ID) --interface IFNAME [--force]
                     [--conf FILE | --conf-dir DIR] [--json]

Removes one attachment from a running pod: its delegate's DEL (in the pod's
network namespace while that exists), under the container's lock, then the
record and (Kubernetes mode) network-status are updated. An attachment
whose DEL fails stays in the record (the runtime's DEL tries again), and
the command fails. The cluster network is refused unless --force. Any
interface multus attached can be detached, by ADD or by attach. --json
prints what was detached as one JSON object.
`,
  explain: `usage: multus explain (--pod NAMESPACE/NAME | FILE...) [--conf FILE | --conf-dir DIR] [--json]

Says what an ADD would do for a pod, and attaches nothing: its networks in
order with their interface names, what each plugin would read on stdin
(the device-plugin device and the runtime config injected as the ADD would
inject them; secrets redacted), the CNI_ARGS each gets, the default route,
and every problem and warning the ADD would meet: the networks that cannot
be resolved (a NAD missing, namespace isolation, a device), the validator's
findings on the netconf and on the pod's networks together (interface
names, overlapping subnets ...), a plugin that is not installed.

--pod NAMESPACE/NAME runs on the node with its netconf (the first multus
config of the conf dir, default /etc/cni/net.d, or --conf FILE): the pod and
its NADs are read from the API, its devices from kubelet; a container the
pod already has on this node gives its container ID and CNI_ARGS. FILE...
reads the pod and NADs from manifests instead (no cluster needed), with the
netconf given by --conf, else one among the files, else this node's, else a
stand-in cluster network on eth0; a device-plugin network then shows its
resource without a device, and a resource no container requests is an
error. --json prints {"ok", "pods": [...]}. Exit code 1 when the ADD would
fail (an error), 0 otherwise.
`,
  version: "usage: multus version\n",
};

export type CliAnswer = { stdout: string; stderr?: string; exitCode: number } | undefined;

/** Option checks made before anything is done: a mistake there is a usage error (exit code 2). */
function usage<T>(check: () => T): T {
  try {
    return check();
  } catch (e) {
    throw e instanceof UsageError ? e : new UsageError((e as Error).message);
  }
}

/** The options of install's DaemonSet mode (--watch, --generate-kubeconfig ...), checked together before anything is done. */
async function daemonOptions(f: ParsedArgs, common: { confDir: string; confName?: string; dryRun: boolean }) {
  const watch = f.booleans.has("watch");
  const generate = f.booleans.has("generate-kubeconfig");
  const { confNameOf } = await import("./install.ts");
  const rescanMs = usage(() => {
    if (f.booleans.has("cleanup-on-exit") && !watch)
      throw new Error("--cleanup-on-exit needs --watch: it removes what install wrote when the watching process is stopped");
    if (f.strings.has("rescan-interval") && !watch) throw new Error("--rescan-interval needs --watch");
    if (watch && common.dryRun) throw new Error("--watch and --dry-run do not go together");
    if (watch && f.booleans.has("json")) throw new Error("--watch and --json do not go together: --watch logs one line per action");
    if (generate && f.strings.has("kubeconfig")) throw new Error("give --generate-kubeconfig or --kubeconfig, not both");
    if (f.strings.has("service-account-dir") && !generate) throw new Error("--service-account-dir needs --generate-kubeconfig");
    if (f.strings.has("readiness-timeout") && !f.strings.has("readiness-indicator-file"))
      throw new Error("--readiness-timeout needs --readiness-indicator-file");
    confNameOf(common);
    const interval = f.strings.get("rescan-interval");
    return interval === undefined ? 10_000 : seconds("--rescan-interval", interval);
  });
  const readinessTimeout = f.strings.get("readiness-timeout");
  const readinessTimeoutMs = readinessTimeout === undefined ? undefined : usage(() => seconds("--readiness-timeout", readinessTimeout));
  let serviceAccountDir: string | undefined;
  let kubeconfig: string | undefined;
  if (generate) {
    const sa = await import("./serviceaccount.ts");
    serviceAccountDir = f.strings.get("service-account-dir") ?? sa.DEFAULT_SA_DIR;
    sa.readServiceAccount(serviceAccountDir); // fail now, not after waiting for readiness
    kubeconfig = sa.generatedPaths(common.confDir).kubeconfig;
  }
  return {
    serviceAccountDir,
    kubeconfig,
    ...(readinessTimeoutMs !== undefined ? { readinessTimeoutMs } : {}),
    watch: watch
      ? { cleanupOnExit: f.booleans.has("cleanup-on-exit"), rescanMs, ...(serviceAccountDir ? { serviceAccountDir } : {}) }
      : undefined,
  };
}

/** A number of seconds greater than 0, in ms. */
function seconds(flag: string, value: string): number {
  const s = Number(value);
  if (!(value.trim() !== "" && Number.isFinite(s) && s > 0))
    throw new Error(`${flag} must be a number of seconds greater than 0, got ${JSON.stringify(value)}`);
  return Math.max(1, Math.round(s * 1000));
}

const ok = (lines: string[]): CliAnswer => ({ stdout: lines.length ? `${lines.join("\n")}\n` : "", exitCode: 0 });
/** The answer of a command run with --json: one JSON object on stdout. */
const json = (value: object, exitCode: number): NonNullable<CliAnswer> => ({ stdout: `${JSON.stringify(value, null, 2)}\n`, exitCode });

/** Handle a person's invocation; undefined means "not a human invocation". */
export async function cli(argv: readonly string[]): Promise<CliAnswer> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) return undefined;
  if (cmd === "--help" || cmd === "-h" || cmd === "help") return { stdout: USAGE, exitCode: 0 };
  if (args.includes("--help") || args.includes("-h")) {
    const h = HELP[cmd];
    return h ? { stdout: h, exitCode: 0 } : { stdout: "", stderr: `unknown command "${cmd}"\n\n${USAGE}`, exitCode: 2 };
  }
  const end = args.indexOf("--");
  const wantsJson = (end < 0 ? args : args.slice(0, end)).includes("--json") && JSON_COMMANDS.has(cmd);
  try {
    return await run(cmd, args);
  } catch (e) {
    const message = (e as Error).message;
    const exitCode = e instanceof UsageError ? 2 : 1;
    const stderr = `multus ${cmd}: ${message}\n`;
    // With --json stdout is always one JSON object, a failure too.
    return wantsJson ? { ...json({ ok: false, error: message }, exitCode), stderr } : { stdout: "", stderr, exitCode };
  }
}

const JSON_COMMANDS = new Set(["install", "status", "validate", "doctor", "attach", "detach", "explain"]);

async function run(cmd: string, args: string[]): Promise<CliAnswer> {
  switch (cmd) {
    case "version":
    case "--version":
    case "-v":
      parseCommandArgs("version", args, {});
      return { stdout: `multus ${PRODUCT_VERSION} (CNI ${SUPPORTED_VERSIONS.join(", ")})\n`, exitCode: 0 };
    case "install":
    case "uninstall":
      return installCommand(cmd, args);
    case "validate": {
      const f = parseCommandArgs("validate", args, { positionals: true, booleans: ["json"] });
      if (f.positionals.length === 0) throw new UsageError("name at least one file (multus validate --help)");
      const { validatePaths, formatFinding } = await import("./validate.ts");
      const r = await validatePaths(f.positionals);
      const errors = r.findings.filter((x) => x.severity === "error").length;
      const warnings = r.findings.length - errors;
      if (f.booleans.has("json"))
        return json({ ok: errors === 0, files: r.files.length, errors, warnings, problems: r.findings }, errors ? 1 : 0);
      const lines = r.findings.map(formatFinding);
      lines.push(errors ? `${errors} problem(s) in ${r.files.length} file(s)` : `${r.files.length} file(s) valid`);
      return { stdout: `${lines.join("\n")}\n`, exitCode: errors ? 1 : 0 };
    }
    case "doctor": {
      const f = parseCommandArgs("doctor", args, { strings: ["bin-dir", "conf-dir", "kubeconfig"], booleans: ["json"] });
      const { doctor } = await import("./doctor.ts");
      const kubeconfig = f.strings.get("kubeconfig");
      const r = await doctor({
        binDir: f.strings.get("bin-dir") ?? "/opt/cni/bin",
        confDir: f.strings.get("conf-dir") ?? "/etc/cni/net.d",
        ...(kubeconfig ? { kubeconfig } : {}),
      });
      if (f.booleans.has("json")) return json({ ok: r.ok, checks: r.checks }, r.ok ? 0 : 1);
      return { stdout: `${r.lines.join("\n")}\n`, exitCode: r.ok ? 0 : 1 };
    }
    case "status": {
      const f = parseCommandArgs("status", args, { strings: ["cni-dir"], booleans: ["json"] });
      const { containers, status } = await import("./status.ts");
      const cniDir = f.strings.get("cni-dir") ?? DEFAULT_CNI_DIR;
      const list = containers(cniDir);
      return f.booleans.has("json") ? json({ ok: true, cniDir, containers: list }, 0) : ok(status(cniDir, list));
    }
    case "attach":
    case "detach":
      return attachCommand(cmd, args);
    case "explain": {
      const { EXPLAIN_OPTIONS, runExplain } = await import("./explain.ts");
      const r = await withDetails(() => runExplain(parseCommandArgs(cmd, args, EXPLAIN_OPTIONS)));
      return args.includes("--json") ? json(r.json, r.exitCode) : { stdout: `${r.lines.join("\n")}\n`, exitCode: r.exitCode };
    }
    default:
      return { stdout: "", stderr: `unknown command "${cmd}"\n\n${USAGE}`, exitCode: 2 };
  }
}

/** `multus attach` and `multus detach` (./attach.ts). */
async function attachCommand(cmd: "attach" | "detach", args: string[]): Promise<CliAnswer> {
  const { ATTACH_OPTIONS, DETACH_OPTIONS, runAttach, runDetach } = await import("./attach.ts");
  const f = parseCommandArgs(cmd, args, cmd === "attach" ? ATTACH_OPTIONS : DETACH_OPTIONS);
  const r = await withDetails(() => (cmd === "attach" ? runAttach(f) : runDetach(f)));
  return f.booleans.has("json") ? json(r.json, 0) : ok(r.lines);
}

/** A plugin error's details (what to do, what was left) belong in the person's message too. */
async function withDetails<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const details = (e as { details?: unknown }).details;
    if (typeof details === "string" && details && !(e instanceof UsageError))
      throw new Error(`${(e as Error).message}\n  ${details.split("\n").join("\n  ")}`);
    throw e;
  }
}

async function installCommand(cmd: "install" | "uninstall", args: string[]): Promise<CliAnswer> {
  const f =
    cmd === "install"
      ? parseCommandArgs(cmd, args, {
          strings: [
            "bin-dir",
            "conf-dir",
            "conf-name",
            "kubeconfig",
            "readiness-indicator-file",
            "readiness-timeout",
            "service-account-dir",
            "rescan-interval",
            "cluster-network-conf",
            "global-namespaces",
            "log-level",
            "log-file",
            "additional-bin-dir",
            "cni-version",
          ],
          booleans: ["dry-run", "force", "watch", "cleanup-on-exit", "generate-kubeconfig", "json"],
          switches: ["namespace-isolation", "log-to-stderr"],
        })
      : parseCommandArgs(cmd, args, { strings: ["bin-dir", "conf-dir", "conf-name", "kubeconfig"], booleans: ["dry-run", "force"] });
  const m = await import("./install.ts");
  const confName = f.strings.get("conf-name");
  const common = {
    binDir: f.strings.get("bin-dir") ?? "/opt/cni/bin",
    confDir: f.strings.get("conf-dir") ?? "/etc/cni/net.d",
    ...(confName !== undefined ? { confName } : {}),
    dryRun: f.booleans.has("dry-run"),
    force: f.booleans.has("force"),
  };
  if (cmd === "uninstall") {
    if (f.strings.has("kubeconfig")) throw new UsageError("uninstall takes no --kubeconfig");
    return ok(m.uninstall(common));
  }
  const d = await daemonOptions(f, common);
  const kubeconfig = d.kubeconfig ?? f.strings.get("kubeconfig");
  const readinessFile = f.strings.get("readiness-indicator-file");
  const { settingsFrom } = await import("./conf-merge.ts");
  const settings = usage(() =>
    settingsFrom(
      {
        namespaceIsolation: f.switches.get("namespace-isolation"),
        logToStderr: f.switches.get("log-to-stderr"),
        globalNamespaces: f.strings.get("global-namespaces"),
        logLevel: f.strings.get("log-level"),
        logFile: f.strings.get("log-file"),
        additionalBinDir: f.strings.get("additional-bin-dir"),
        cniVersion: f.strings.get("cni-version"),
      },
      SUPPORTED_VERSIONS,
    ),
  );
  const clusterNetworkConf = f.strings.get("cluster-network-conf");
  if (clusterNetworkConf && !/^[^/\\\0]+\.(conf|conflist|json)$/.test(clusterNetworkConf))
    throw new UsageError(
      `--cluster-network-conf must be the name of a .conf, .conflist or .json file in the conf dir, got ${JSON.stringify(clusterNetworkConf)}`,
    );
  const options = {
    ...common,
    ...(kubeconfig ? { kubeconfig } : {}),
    ...(d.kubeconfig ? { kubeconfigGenerated: true } : {}),
    ...(readinessFile ? { readinessFile } : {}),
    ...(Object.keys(settings).length ? { settings } : {}),
    ...(clusterNetworkConf !== undefined ? { clusterNetworkConf } : {}),
    self: m.selfPath(),
    version: PRODUCT_VERSION,
  };
  if (d.watch) {
    const { watchInstall } = await import("./watch.ts");
    return { stdout: "", exitCode: await watchInstall({ ...options, ...d.watch, ...readinessOf(d) }) };
  }
  const notes: string[] = [];
  if (readinessFile && !common.dryRun) {
    const { waitForReadiness } = await import("./watch.ts");
    await waitForReadiness(readinessFile, (line) => process.stderr.write(`multus install: ${line}\n`), readinessOf(d));
  } else if (readinessFile && !existsSync(readinessFile)) {
    notes.push(`note: the readiness indicator ${readinessFile} does not exist yet: install waits for it before writing anything`);
  }
  const lines = [...notes];
  let kubeconfigActions: string[] = [];
  if (d.serviceAccountDir) {
    // install's own checks first: a refused install writes no kubeconfig either.
    if (!common.dryRun) m.install({ ...options, dryRun: true });
    const { syncKubeconfig } = await import("./serviceaccount.ts");
    kubeconfigActions = syncKubeconfig(common.confDir, d.serviceAccountDir, { dryRun: common.dryRun }).actions;
    lines.push(...kubeconfigActions);
  }
  const done = m.installPlanned(options);
  if (f.booleans.has("json"))
    return json({ ok: true, ...done.report, notes: [...notes, ...done.report.notes], kubeconfig: kubeconfigActions }, 0);
  lines.push(...done.lines);
  return ok(lines);
}

const readinessOf = (d: { readinessTimeoutMs?: number }) =>
  d.readinessTimeoutMs !== undefined ? { readinessTimeoutMs: d.readinessTimeoutMs } : {};
