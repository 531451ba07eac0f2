// Command-line parsing of the commands for a person (node:util parseArgs,
// strict): unknown options, options without their value, values given to
// options that take none and stray arguments are errors that name the option
// and point at the command's --help (exit code 2: a usage mistake); nothing is done. In-process and through
// the built file.
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { cli } from "../lib/cli/index.ts";
import { tempDir } from "./helpers/netns.ts";
import { runPlugin } from "./helpers/run-plugin.ts";

type Answer = { code: number | null; stdout: string; stderr: string };
const builtFile = (argv: string[]): Promise<Answer> => runPlugin({ argv, stdin: "", env: { CNI_IFNAME: undefined, CNI_PATH: undefined } });
async function inProcess(argv: string[]): Promise<Answer> {
  const a = await cli(argv);
  if (!a) throw new Error("not a CLI invocation");
  return { code: a.exitCode, stdout: a.stdout, stderr: a.stderr ?? "" };
}

function node(t: Parameters<typeof tempDir>[0]) {
  const root = tempDir(t);
  const binDir = join(root, "bin");
  const confDir = join(root, "net.d");
  mkdirSync(confDir);
  mkdirSync(binDir);
  writeFileSync(
    join(confDir, "10-flannel.conflist"),
    JSON.stringify({ cniVersion: "0.4.0", name: "cbr0", plugins: [{ type: "flannel" }] }),
  );
  return { root, binDir, confDir };
}

for (const [how, run] of [
  ["in-process", inProcess],
  ["built file", builtFile],
] as const) {
  t.test(`${how}: an unknown option is an error naming it, on every command`, async (t) => {
    const n = node(t);
    const cases: [string[], string][] = [
      [
        ["install", "--bin-dir", n.binDir, "--conf-dir", n.confDir, "--foo"],
        "multus install: unknown option --foo; see multus install --help\n",
      ],
      [["install", "--conf-dir", n.confDir, "--bin-dir", n.binDir, "-x"], "multus install: unknown option -x; see multus install --help\n"],
      [
        ["uninstall", "--bin-dir", n.binDir, "--conf-dir", n.confDir, "--purge"],
        "multus uninstall: unknown option --purge; see multus uninstall --help\n",
      ],
      [["doctor", "--conf-dir", n.confDir, "--verbose"], "multus doctor: unknown option --verbose; see multus doctor --help\n"],
      [["status", "--cni-dir", n.root, "--all"], "multus status: unknown option --all; see multus status --help\n"],
      [
        ["validate", "--strict", join(n.confDir, "10-flannel.conflist")],
        "multus validate: unknown option --strict; see multus validate --help\n",
      ],
      [["version", "--short"], "multus version: unknown option --short; see multus version --help\n"],
    ];
    for (const [argv, stderr] of cases) {
      const r = await run(argv);
      t.equal(r.code, 2, argv.join(" "));
      t.equal(r.stderr, stderr, argv.join(" "));
      t.equal(r.stdout, "", "nothing on stdout");
    }
    t.same(readdirSync(n.confDir), ["10-flannel.conflist"], "install wrote nothing");
  });

  t.test(`${how}: an option without its value is an error naming it`, async (t) => {
    const n = node(t);
    const cases: [string[], RegExp][] = [
      // at the end
      [["install", "--conf-dir", n.confDir, "--bin-dir"], /^multus install: option --bin-dir needs a value; see multus install --help\n$/],
      [["doctor", "--kubeconfig"], /^multus doctor: option --kubeconfig needs a value; see multus doctor --help\n$/],
      [["status", "--cni-dir"], /^multus status: option --cni-dir needs a value; see multus status --help\n$/],
      [["uninstall", "--conf-name"], /^multus uninstall: option --conf-name needs a value; see multus uninstall --help\n$/],
      // followed by another option: not taken as the value
      [
        ["install", "--bin-dir", "--conf-dir", n.confDir],
        /^multus install: option --bin-dir needs a value \(got --conf-dir; write --bin-dir=VALUE for a value that starts with "-"\); see multus install --help\n$/,
      ],
      [
        ["doctor", "--conf-dir", "--bin-dir", n.binDir],
        /^multus doctor: option --conf-dir needs a value \(got --bin-dir; .*\); see multus doctor --help\n$/,
      ],
    ];
    for (const [argv, stderr] of cases) {
      const r = await run(argv);
      t.equal(r.code, 2, argv.join(" "));
      t.match(r.stderr, stderr, argv.join(" "));
    }
    t.same(readdirSync(n.confDir), ["10-flannel.conflist"], "install wrote nothing");
  });

  t.test(`${how}: a value for an option that takes none, and stray arguments, are errors`, async (t) => {
    const n = node(t);
    const cases: [string[], string][] = [
      [
        ["install", "--bin-dir", n.binDir, "--conf-dir", n.confDir, "--dry-run=yes"],
        "multus install: option --dry-run takes no value; see multus install --help\n",
      ],
      [
        ["install", "--bin-dir", n.binDir, "--conf-dir", n.confDir, "extra"],
        "multus install: unexpected argument extra; see multus install --help\n",
      ],
      [["status", "--cni-dir", n.root, "extra"], "multus status: unexpected argument extra; see multus status --help\n"],
      [["uninstall", "--kubeconfig", "/x"], "multus uninstall: uninstall takes no --kubeconfig\n"],
    ];
    for (const [argv, stderr] of cases) {
      const r = await run(argv);
      t.equal(r.code, 2, argv.join(" "));
      t.equal(r.stderr, stderr, argv.join(" "));
    }
    t.same(readdirSync(n.confDir), ["10-flannel.conflist"], "install wrote nothing");
  });

  t.test(
    `${how}: the forms that work: --opt VALUE, --opt=VALUE, a value starting with "-" after "=", -h and --help anywhere`,
    async (t) => {
      const n = node(t);
      const dry = await run(["install", `--bin-dir=${n.binDir}`, "--conf-dir", n.confDir, "--dry-run"]);
      t.equal(dry.code, 0, dry.stderr);
      t.match(dry.stdout, /would write .*00-multus.conf, delegating to .*10-flannel.conflist/);
      const dash = await run(["install", "--bin-dir", n.binDir, "--conf-dir", n.confDir, "--conf-name=-a-multus.conf", "--dry-run"]);
      t.equal(dash.code, 0, dash.stderr);
      t.match(dash.stdout, /would write .*\/-a-multus\.conf, delegating to/);
      for (const argv of [
        ["install", "-h"],
        ["install", "--foo", "--help"],
        ["doctor", "--help"],
        ["validate", "-h"],
      ]) {
        const r = await run(argv);
        t.equal(r.code, 0, argv.join(" "));
        t.match(r.stdout, new RegExp(`^usage: multus ${argv[0]}`));
      }
      const v = await run(["validate", join(n.confDir, "10-flannel.conflist")]);
      t.equal(v.code, 0, v.stdout);
      t.match(v.stdout, /1 file\(s\) valid/);
      const none = await run(["validate"]);
      t.equal(none.code, 2);
      t.match(none.stderr, /name at least one file/);
    },
  );
}
