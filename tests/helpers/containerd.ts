/**
 * A private containerd (Debian's 1.6, CRI plugin built in) for end-to-end
 * tests: its own config, root and state dirs, socket, CNI bin dir (the
 * reference plugins from /usr/lib/cni plus the plugin under test as `multus`)
 * and conf dir, all under one temp dir; the sandbox image is built offline
 * (pause-image.ts) and imported with `ctr`. Everything it started or created
 * is removed at teardown, also after a failure.
 *
 * Also here: host leak accounting for such tests (`hostSnapshot`, `leaks`).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { CriClient, type PodSandboxConfig, type PodSandboxStatusResponse } from "./cri.ts";
import { reservations, type Tap } from "./netns.ts";
import { PAUSE_IMAGE, pauseImageFile } from "./pause-image.ts";
import { CNI_BIN, PLUGIN } from "./run-plugin.ts";

/** Where containerd 1.6 bind-mounts pod network namespaces (netns_mounts_under_state_dir = false). */
export const NETNS_DIR = "/var/run/netns";
/** libcni's default cache dir: containerd keeps each network's ADD result under results/. */
export const LIBCNI_RESULTS = "/var/lib/cni/results";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":").some((d) => existsSync(join(d, cmd)));
}

/** What is missing to run containerd tests here, or undefined when nothing is. */
export function containerdMissing(): string | undefined {
  const missing = ["containerd", "ctr", "containerd-shim-runc-v2", "runc", "gcc", "iptables", "nsenter"].filter((c) => !onPath(c));
  if (!missing.includes("gcc")) {
    try {
      const libc = execFileSync("gcc", ["-print-file-name=libc.a"], { encoding: "utf8" }).trim();
      if (!libc.startsWith("/")) missing.push("libc.a (libc6-dev, for gcc -static)");
    } catch {
      missing.push("gcc");
    }
  }
  if (!existsSync(join(CNI_BIN, "bridge"))) missing.push(`${CNI_BIN}/bridge (containernetworking-plugins)`);
  if (process.getuid?.() !== 0) missing.push("root");
  return missing.length ? missing.join(", ") : undefined;
}

export interface PodRun {
  id: string;
  /** The pod's network namespace file, as containerd created it (/var/run/netns/cni-<uuid>). */
  netns: string;
  /** Its name for `ip -n`. */
  netnsName: string;
  /** status.network.ip */
  ip: string;
}

export interface ContainerdOptions {
  /** Snapshotter for the CRI plugin; overlayfs works on this VM, native works everywhere. @default "native" */
  snapshotter?: string;
  /** How long to wait for another containerd test run on this machine. @default 150 s */
  lockTimeoutMs?: number;
}

export interface Containerd {
  readonly dir: string;
  readonly socket: string;
  readonly binDir: string;
  readonly confDir: string;
  readonly logFile: string;
  /** A fresh client after every (re)start. */
  readonly cri: CriClient;
  /** Every pod netns path containerd reported for a sandbox of this instance. */
  readonly netnsSeen: Set<string>;
  /** Starts containerd (again), waits for the CRI socket; the first start imports the pause image. */
  start(): Promise<void>;
  /** Stops containerd with `signal` and waits for it to exit (shims and pods keep running). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  restart(signal: NodeJS.Signals): Promise<void>;
  /**
   * Makes `files` the whole CNI conf dir (name → JSON) and waits until the CRI
   * plugin has loaded the first one by name.
   */
  setNetwork(files: Record<string, unknown>): Promise<void>;
  /** Waits until the CRI plugin has loaded `conf` (JSON text or object; compared as canonical JSON). */
  waitForNetwork(conf: string | object): Promise<void>;
  /** RunPodSandbox, then PodSandboxStatus: the id, netns and IP. */
  runPod(config: PodSandboxConfig): Promise<PodRun>;
  /** The netns path from containerd's verbose sandbox info. */
  netnsOf(status: PodSandboxStatusResponse): string;
  /** StopPodSandbox + RemovePodSandbox. */
  removePod(id: string): Promise<void>;
  /** Stop and remove every sandbox this containerd knows. */
  removeAllPods(): Promise<void>;
  ctr(args: string[]): string;
  /** The last lines of containerd's log (for failure messages). */
  logTail(lines?: number): string;
  /** Everything torn down; safe to call twice. Registered with t.teardown. */
  cleanup(): Promise<void>;
}

/** JSON with object keys sorted, for comparing configs however they were serialised. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === "object" && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : x,
  );
}

function shQuiet(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: "ignore" });
  } catch {
    // already gone
  }
}

function readProc(pid: string, file: string): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return "";
  }
}

/** Processes as [pid, argv, ppid]. */
export function processes(): { pid: number; argv: string[]; ppid: number }[] {
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .map((p) => {
      const argv = readProc(p, "cmdline").split("\0").filter(Boolean);
      const ppid = Number(/PPid:\s*(\d+)/.exec(readProc(p, "status"))?.[1] ?? 0);
      return { pid: Number(p), argv, ppid };
    })
    .filter((p) => p.argv.length > 0);
}

/** The environment of a process, or {} when it is gone. */
export function processEnv(pid: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of readProc(String(pid), "environ").split("\0")) {
    const i = kv.indexOf("=");
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return env;
}

function netnsFiles(): string[] {
  try {
    return readdirSync(NETNS_DIR)
      .filter((n) => n.startsWith("cni-"))
      .map((n) => join(NETNS_DIR, n));
  } catch {
    return [];
  }
}

function cgroupMounts(): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter((l) => / - cgroup2? /.test(l))
    .map((l) => l.split(" ")[4]);
}

/** Deletes a cgroup dir tree bottom-up (only empty cgroups can go). */
function rmCgroup(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rmCgroup(join(dir, e.name));
  try {
    rmdirSync(dir);
  } catch {
    // busy: a process is still in it
  }
}

/**
 * One containerd test run per machine at a time: pod netns files all land in
 * /var/run/netns and libcni's results in /var/lib/cni/results, so two runs
 * would count each other's pods as leaks. A dir holding a file named
 * `<pid>-<start time>`; a lock whose owner is gone is taken over.
 */
const RUN_LOCK = "/run/multus-e2e-containerd.lock";

function processStart(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")[19];
  } catch {
    return "";
  }
}

async function acquireRunLock(onWait: (owner: string) => void, timeoutMs: number): Promise<() => void> {
  const me = `${process.pid}-${processStart(process.pid)}`;
  const deadline = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    try {
      mkdirSync(RUN_LOCK);
      writeFileSync(join(RUN_LOCK, me), "");
      // Only while it is still ours: a later run may hold it by now.
      const release = () => {
        if (existsSync(join(RUN_LOCK, me))) rmSync(RUN_LOCK, { recursive: true, force: true });
      };
      process.on("exit", release);
      return () => {
        process.off("exit", release);
        release();
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    let owner = "";
    try {
      owner = readdirSync(RUN_LOCK)[0] ?? "";
    } catch {
      continue;
    }
    const [pid, start] = owner.split("-");
    const alive = !!pid && processStart(Number(pid)) === start && start !== "";
    if (!alive) {
      // Being created (no owner file yet) or its owner died: wait a moment, then take it over.
      await sleep(200);
      try {
        if ((readdirSync(RUN_LOCK)[0] ?? "") === owner) rmSync(RUN_LOCK, { recursive: true, force: true });
      } catch {
        // released meanwhile
      }
      continue;
    }
    if (!told) onWait(pid);
    told = true;
    if (Date.now() > deadline) throw new Error(`another containerd test run (pid ${pid}) still holds ${RUN_LOCK}`);
    await sleep(250);
  }
}

export async function startContainerd(t: Tap & { comment(...m: unknown[]): void }, opts: ContainerdOptions = {}): Promise<Containerd> {
  const releaseRunLock = await acquireRunLock(
    (pid) => t.comment(`waiting for another containerd test run (pid ${pid}) to finish`),
    opts.lockTimeoutMs ?? 150_000,
  );
  const dir = mkdtempSync(join(tmpdir(), "multus-ctrd-"));
  const token = randomBytes(4).toString("hex");
  const cgroupParent = `/multus-e2e-${token}`;
  const socket = join(dir, "containerd.sock");
  const binDir = join(dir, "bin");
  const confDir = join(dir, "net.d");
  const logFile = join(dir, "containerd.log");
  const snapshotter = opts.snapshotter ?? "native";
  mkdirSync(binDir);
  mkdirSync(confDir);
  for (const p of readdirSync(CNI_BIN)) symlinkSync(join(CNI_BIN, p), join(binDir, p));
  symlinkSync(PLUGIN, join(binDir, "multus"));

  const config = `# written by tests/helpers/containerd.ts
version = 2
root = "${dir}/root"
state = "${dir}/state"
# Only what the CRI plugin needs: no other snapshotters, no tracing, no /opt plugin dir.
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.opt",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "${socket}"

[ttrpc]
  address = "${socket}.ttrpc"

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  # runc on this VM cannot set a negative oom_score_adj
  restrict_oom_score_adj = true
  # containerd 1.7+; 1.6 has no CDI and ignores it
  enable_cdi = false
  disable_apparmor = true
  enable_selinux = false
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "${snapshotter}"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${binDir}"
    conf_dir = "${confDir}"
    max_conf_num = 1
    conf_template = ""
`;
  writeFileSync(join(dir, "config.toml"), config);

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let cri = new CriClient(socket);
  let imported = false;
  let cleaned = false;
  const netnsSeen = new Set<string>();
  /** Every sandbox id this instance ran or listed: after a forced teardown their libcni results are removed. */
  const idsSeen = new Set<string>();

  const logTail = (lines = 30): string => {
    try {
      return readFileSync(logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  };

  const ctr = (args: string[]): string =>
    execFileSync("ctr", ["--address", socket, "--namespace", "k8s.io", ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

  const start = async (): Promise<void> => {
    if (child && child.exitCode === null && child.signalCode === null) throw new Error("containerd is already running");
    rmSync(socket, { force: true });
    const fd = openSync(logFile, "a");
    const c = spawn("containerd", ["--config", join(dir, "config.toml")], { stdio: ["ignore", fd, fd] });
    closeSync(fd);
    child = c;
    exited = new Promise((r) => c.once("exit", () => r()));
    cri.close();
    cri = new CriClient(socket);
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (c.exitCode !== null || c.signalCode !== null) throw new Error(`containerd exited at start:\n${logTail()}`);
      try {
        if (existsSync(socket)) {
          await cri.version(1000);
          break;
        }
      } catch {
        // not serving yet
      }
      if (Date.now() > deadline) throw new Error(`containerd did not answer on ${socket}:\n${logTail()}`);
      await sleep(50);
    }
    if (!imported) {
      ctr(["images", "import", "--snapshotter", snapshotter, pauseImageFile()]);
      while (!(await cri.imageId(PAUSE_IMAGE))) {
        if (Date.now() > deadline) throw new Error(`the CRI plugin does not see ${PAUSE_IMAGE}`);
        await sleep(50);
      }
      imported = true;
    }
  };

  const stop = async (signal: NodeJS.Signals = "SIGTERM"): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.kill(signal);
    const done = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
    if (!done) {
      c.kill("SIGKILL");
      await exited;
    }
  };

  /** The loaded CNI configs ("cniconfig" of the verbose runtime status): each network and plugin, in canonical JSON. */
  const loadedConfigs = async (): Promise<string[]> => {
    const st = await cri.status(true, 2000);
    const cfg = JSON.parse(st.info.cniconfig ?? "{}") as { Networks?: { Config: { Source: string; Plugins: { Source: string }[] } }[] };
    const sources = (cfg.Networks ?? []).flatMap((n) => [n.Config.Source, ...n.Config.Plugins.map((p) => p.Source)]);
    return sources.map((src) => {
      try {
        return canonicalJson(JSON.parse(src));
      } catch {
        return src;
      }
    });
  };

  const waitForNetwork = async (conf: string | object): Promise<void> => {
    const want = canonicalJson(typeof conf === "string" ? JSON.parse(conf) : conf);
    const deadline = Date.now() + 15_000;
    let last: string[] = [];
    for (;;) {
      try {
        last = await loadedConfigs();
        if (last.includes(want)) return;
      } catch {
        // restarting
      }
      if (Date.now() > deadline) throw new Error(`containerd did not load the CNI config ${want}; loaded: ${JSON.stringify(last)}`);
      await sleep(50);
    }
  };

  const setNetwork = async (files: Record<string, unknown>): Promise<void> => {
    for (const f of readdirSync(confDir)) rmSync(join(confDir, f), { recursive: true, force: true });
    const names = Object.keys(files).sort();
    for (const name of names) {
      const tmp = join(confDir, `.${name}.tmp`);
      writeFileSync(tmp, typeof files[name] === "string" ? (files[name] as string) : JSON.stringify(files[name]));
      renameSync(tmp, join(confDir, name));
    }
    if (names.length) await waitForNetwork(files[names[0]] as string | object);
  };

  const netnsOf = (status: PodSandboxStatusResponse): string => {
    const info = JSON.parse(status.info.info ?? "{}") as { runtimeSpec?: { linux?: { namespaces?: { type: string; path?: string }[] } } };
    const ns = info.runtimeSpec?.linux?.namespaces?.find((n) => n.type === "network")?.path ?? "";
    if (ns) netnsSeen.add(ns);
    return ns;
  };

  /** RunPodSandbox calls in flight: a sandbox is listed only once its call returned, so cleanup waits for them. */
  const pending = new Set<Promise<unknown>>();
  const runPod = async (cfg: PodSandboxConfig): Promise<PodRun> => {
    if (cleaned) throw new Error("the containerd test harness is shutting down");
    const call = cri.runPodSandbox({ hostname: cfg.metadata.name, ...cfg, linux: { cgroupParent, ...cfg.linux } });
    pending.add(call);
    const id = await call.finally(() => pending.delete(call));
    idsSeen.add(id);
    const st = await cri.podSandboxStatus(id, true);
    const netns = netnsOf(st);
    return { id, netns, netnsName: basename(netns), ip: st.status.network?.ip ?? "" };
  };

  const removePod = async (id: string): Promise<void> => {
    await cri.stopPodSandbox(id);
    await cri.removePodSandbox(id);
  };

  const removeAllPods = async (): Promise<void> => {
    for (const p of await cri.listPodSandbox()) {
      try {
        await removePod(p.id);
      } catch {
        // retried below
      }
    }
    for (const p of await cri.listPodSandbox()) await removePod(p.id);
  };

  /** Everything this instance started or created, removed by force; synchronous, so it also works from a signal handler. */
  const forceCleanup = (): void => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    // Shims (and their pods) of this instance outlive containerd: kill the pods first, then the shims.
    const procs = processes();
    const shims = procs.filter((p) => p.argv.some((a) => a.includes("containerd-shim")) && p.argv.includes(socket)).map((p) => p.pid);
    for (const p of procs) if (shims.includes(p.ppid)) shQuiet("kill", ["-KILL", String(p.pid)]);
    for (const pid of shims) shQuiet("kill", ["-KILL", String(pid)]);
    if (shims.length) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    // Mounts under our dir (rootfs, shm), deepest first.
    const ours = readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((l) => l.split(" ")[4])
      .filter((m) => m?.startsWith(`${dir}/`))
      .sort((a, b) => b.length - a.length);
    for (const m of ours) shQuiet("umount", ["-l", m]);
    // Only pod netns this instance reported: any other one may belong to a real runtime on this machine.
    for (const ns of netnsSeen) {
      if (!existsSync(ns)) continue;
      shQuiet("umount", ["-l", ns]);
      rmSync(ns, { force: true });
    }
    // libcni's results of sandboxes whose DEL never succeeded: containerd, now gone, would have removed them.
    for (const f of resultFiles()) if ([...idsSeen].some((id) => f.includes(`-${id}-`))) rmSync(join(LIBCNI_RESULTS, f), { force: true });
    // A killed pod's cgroup can be busy for a moment.
    for (let i = 0; i < 20; i++) {
      const left = cgroupMounts().filter((m) => existsSync(join(m, cgroupParent)));
      if (!left.length) break;
      for (const m of left) rmCgroup(join(m, cgroupParent));
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
    rmSync(dir, { recursive: true, force: true });
    releaseRunLock();
  };

  // Killed by a timeout (tap's, or timeout(1)): no teardown runs, so clean up here rather than leave containerd
  // running: pods stopped through the CRI for up to 8 s, then by force.
  const onSignal = (signal: NodeJS.Signals) => {
    const exit = () => process.exit(128 + (signal === "SIGINT" ? 2 : 15));
    if (cleaned) exit();
    Promise.race([cleanup(), sleep(8000)]).finally(() => {
      forceCleanup();
      exit();
    });
  };
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);

  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    const running = child && child.exitCode === null && child.signalCode === null;
    if (running) {
      await Promise.allSettled([...pending]);
      // Learn every sandbox's netns first (also of failed ones containerd kept): if Stop fails they are removed by force below.
      try {
        for (const p of await cri.listPodSandbox()) {
          idsSeen.add(p.id);
          netnsOf(await cri.podSandboxStatus(p.id, true));
        }
      } catch {
        // as far as it goes
      }
      try {
        await removeAllPods();
      } catch {
        // torn down by force below
      }
    }
    await stop("SIGTERM");
    cri.close();
    forceCleanup();
  };
  t.teardown(cleanup);

  try {
    await start();
  } catch (e) {
    await cleanup();
    throw e;
  }
  return {
    dir,
    socket,
    binDir,
    confDir,
    logFile,
    get cri() {
      return cri;
    },
    netnsSeen,
    start,
    stop,
    restart: async (signal) => {
      await stop(signal);
      await start();
    },
    setNetwork,
    waitForNetwork,
    runPod,
    netnsOf,
    removePod,
    removeAllPods,
    ctr,
    logTail,
    cleanup,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Leak accounting

/** What a test may leave on the host, recorded before it runs. */
export interface HostSnapshot {
  netns: Set<string>;
  veths: Set<string>;
  results: Set<string>;
  natRules: Set<string>;
}

/** What a test finds left after everything was stopped and removed: every list must be empty. */
export interface Leaks {
  /** host veth* links that appeared (other than those of other tests' mtns* namespaces) and mt* links other than bridges */
  links: string[];
  /** ports still enslaved to the test's bridges */
  bridgePorts: string[];
  /** host-local reservations in the test's IPAM data dirs */
  reservations: string[];
  /** the plugin's cache records, temp and lock files (in its cniDir), and named records elsewhere */
  cache: string[];
  /** libcni result cache files (/var/lib/cni/results) of the test's pods */
  results: string[];
  /** pod network namespace files created during the test */
  netns: string[];
  /** nat CNI-* chains and rules that appeared, apart from portmap's shared top-level chains */
  iptables: string[];
}

export const NO_LEAKS: Leaks = { links: [], bridgePorts: [], reservations: [], cache: [], results: [], netns: [], iptables: [] };

interface HostLink {
  name: string;
  kind: string;
  master?: string;
  linkNetns?: string;
}

/** Host links with their kind, master and (for veths) the peer's netns name or id. */
export function hostLinks(): HostLink[] {
  const out = execFileSync("ip", ["-d", "-o", "link", "show"], { encoding: "utf8" });
  return out
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const name = l.split(":")[1]?.trim().split("@")[0] ?? "";
      const kind = /\n?\s(veth|bridge|dummy|vlan|macvlan|ipvlan|tun|vxlan)\s/.exec(l.replace(/\\/g, " "))?.[1] ?? "";
      const master = /\smaster (\S+)/.exec(l)?.[1];
      const linkNetns = /\slink-netns (\S+)/.exec(l)?.[1] ?? /\slink-netnsid (\S+)/.exec(l)?.[1];
      return { name, kind, master, linkNetns };
    });
}

function natRules(): string[] {
  try {
    return execFileSync("iptables", ["-w", "-t", "nat", "-S"], { encoding: "utf8" })
      .split("\n")
      .filter((l) => l.includes("CNI-"));
  } catch {
    return [];
  }
}

/** portmap creates these once and never deletes them; their jump rules are not per pod either. */
const PORTMAP_SHARED =
  /^(-N CNI-HOSTPORT-(DNAT|SETMARK|MASQ)$|-A (PREROUTING|OUTPUT|POSTROUTING) .*-j CNI-HOSTPORT-(DNAT|MASQ)$|-A CNI-HOSTPORT-SETMARK .*-j MARK |-A CNI-HOSTPORT-MASQ .*-j MASQUERADE)/;

function resultFiles(): string[] {
  try {
    return readdirSync(LIBCNI_RESULTS);
  } catch {
    return [];
  }
}

export function hostSnapshot(): HostSnapshot {
  return {
    netns: new Set(netnsFiles()),
    veths: new Set(
      hostLinks()
        .filter((l) => l.kind === "veth")
        .map((l) => l.name),
    ),
    results: new Set(resultFiles()),
    natRules: new Set(natRules()),
  };
}

export interface LeakScope {
  /** IPAM data dirs to look into. */
  ipamDirs?: string[];
  /** Plugin cache dirs (cniDir) whose files must all be gone. */
  cacheDirs?: string[];
  /** Other cache record files that must be gone (e.g. in the default /var/lib/cni/multus). */
  cacheFiles?: string[];
  /** Bridges whose ports must all be gone. */
  bridges?: string[];
  /** Pod namespace used by the test's pods: result files whose CNI args name it are the test's. */
  podNamespace: string;
}

/** Files in a plugin cache dir: records, temp files, and per-container lock files (an empty .locks dir is no leak). */
function cacheDirFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() && e.name === ".locks" ? readdirSync(join(dir, e.name)).map((f) => join(dir, e.name, f)) : [join(dir, e.name)],
  );
}

/** Everything the test left behind since `before`. */
export function leaks(before: HostSnapshot, scope: LeakScope): Leaks {
  const links = hostLinks();
  const results = resultFiles()
    .filter((f) => !before.results.has(f))
    .filter((f) => {
      try {
        return readFileSync(join(LIBCNI_RESULTS, f), "utf8").includes(`"K8S_POD_NAMESPACE","${scope.podNamespace}"`);
      } catch {
        return false;
      }
    });
  return {
    links: links
      .filter((l) => (l.kind === "veth" && !before.veths.has(l.name) && !l.linkNetns?.startsWith("mtns")) || l.name.startsWith("mt-h"))
      .map((l) => `${l.name}${l.linkNetns ? ` (peer in ${l.linkNetns})` : ""}`),
    bridgePorts: links.filter((l) => l.master && (scope.bridges ?? []).includes(l.master)).map((l) => `${l.master}: ${l.name}`),
    reservations: (scope.ipamDirs ?? []).flatMap((d) => reservations(d).map((r) => join(d, r))),
    cache: [...(scope.cacheDirs ?? []).flatMap(cacheDirFiles), ...(scope.cacheFiles ?? []).filter((f) => existsSync(f))],
    results,
    netns: netnsFiles().filter((n) => !before.netns.has(n)),
    iptables: natRules().filter((r) => !before.natRules.has(r) && !PORTMAP_SHARED.test(r)),
  };
}

/** Splits an `iptables -S` line into arguments (double-quoted strings stay whole). */
function ruleArgs(rule: string): string[] {
  return [...rule.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2]));
}

/**
 * `leaks`, looked at again for up to ~1.5 s while anything is found: the
 * kernel destroys a network namespace (and its veths) asynchronously.
 */
export async function settledLeaks(before: HostSnapshot, scope: LeakScope): Promise<Leaks> {
  let found = leaks(before, scope);
  for (let i = 0; i < 5 && JSON.stringify(found) !== JSON.stringify(NO_LEAKS); i++) {
    await sleep(300);
    found = leaks(before, scope);
  }
  return found;
}

/** Removes portmap's shared chains and their jump rules if the test created them (portmap never removes them). */
export function removePortmapChains(before: HostSnapshot): void {
  const created = natRules().filter((r) => !before.natRules.has(r));
  for (const r of created.filter((x) => x.startsWith("-A "))) shQuiet("iptables", ["-w", "-t", "nat", "-D", ...ruleArgs(r).slice(1)]);
  for (const r of created.filter((x) => x.startsWith("-N "))) {
    shQuiet("iptables", ["-w", "-t", "nat", "-F", r.slice(3)]);
    shQuiet("iptables", ["-w", "-t", "nat", "-X", r.slice(3)]);
  }
}
