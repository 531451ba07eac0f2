// Errors that point at the line: lib/json-position.ts finds the first JSON
// syntax error and the value at a validator path, as line and column; an ADD
// whose netconf is not JSON, or that the validator refuses, says
// `<stdin>:LINE:COLUMN:` for each problem in its error's details.
import t from "tap";
import { positionAt, syntaxError, valuePosition } from "../lib/json-position.ts";
import { Gen, rng } from "./helpers/fuzz.ts";
import { runPlugin } from "./helpers/run-plugin.ts";

const conf = {
  cniVersion: "1.0.0",
  name: "multus-cni-network",
  type: "multus",
  "cni.dev/valid-attachments": [{ containerID: "c1", ifname: "eth0" }],
  delegates: [
    { name: "cbr0", type: "bridge", ipam: { type: "host-local", subnet: "10.1.0.0/24", rangeStart: "10.9.0.5" } },
    { name: "storage", type: "macvlan", master: "eth1" },
  ],
};
const pretty = JSON.stringify(conf, null, 2);

t.test("the value at a path: dotted keys, indices, a key holding dots, a missing key's nearest value", async (t) => {
  const lineOf = (needle: string) => pretty.split("\n").findIndex((l) => l.includes(needle)) + 1;
  t.same(valuePosition(pretty, "delegates[0].ipam.rangeStart"), { line: lineOf('"rangeStart"'), column: 23 });
  t.same(valuePosition(pretty, "delegates[1].master"), { line: lineOf('"master"'), column: 17 });
  t.same(valuePosition(pretty, "cni.dev/valid-attachments[0].ifname"), { line: lineOf('"ifname"'), column: 17 });
  // "is missing": the object that lacks it.
  t.same(valuePosition(pretty, "delegates[1].ipam"), { line: lineOf('"name": "storage"') - 1, column: 5 });
  t.same(valuePosition(pretty, ""), { line: 1, column: 1 });
  // JSON.parse keeps the last of duplicate keys; so does the position.
  t.same(valuePosition('{"a": 1,\n "a": 2}', "a"), { line: 2, column: 7 });
  t.equal(valuePosition("{not json", "a"), undefined);
});

t.test("the first syntax error, with a message of our own", async (t) => {
  const cases: [string, number, number, RegExp][] = [
    ['{\n  "name": "m"\n  "type": "multus"\n}', 3, 3, /expected "," or "}" after the value of "name", got '"'/],
    ['{"delegates": [{"type": "bridge"},]}', 1, 35, /expected a value .*got "]"/],
    ['{"a": 1,}', 1, 9, /expected a key in double quotes, got "}"/],
    ['{"a": yes}', 1, 7, /got "yes"/],
    ['{"a": "x\ny"}', 1, 9, /control character U\+000A inside a string/],
    ['{"a": "\\q"}', 1, 8, /\\q is not a JSON escape/],
    ["\ufeff{}", 1, 1, /byte order mark/],
    ['{"a": 1} {"b": 2}', 1, 10, /text after the JSON value/],
    ['{"a": "never closed}', 1, 7, /a string that is never closed/],
    ["", 1, 1, /got the end of the text/],
  ];
  for (const [text, line, column, message] of cases) {
    const e = syntaxError(text);
    t.ok(e, JSON.stringify(text));
    if (!e) continue;
    t.same(positionAt(text, e.offset), { line, column }, JSON.stringify(text));
    t.match(e.message, message, JSON.stringify(text));
  }
  t.equal(syntaxError(pretty), undefined, "valid JSON has none");
});

t.test("any depth, without recursion: a million open brackets is an error, not a stack overflow", async (t) => {
  const deep = "[".repeat(1_000_000);
  t.match(syntaxError(deep)?.message, /got the end of the text/);
  const nested = `${"[".repeat(100_000)}1${"]".repeat(100_000)}`;
  t.equal(syntaxError(nested), undefined);
  // The validator's paths are at most its parser's 128 levels deep.
  const deepest = `${"[".repeat(200)}1${"]".repeat(200)}`;
  t.same(valuePosition(deepest, "[0]".repeat(200)), { line: 1, column: 201 });
});

/** `text` with one to three characters deleted, inserted (JSON's own and a few others) or the tail cut. */
function mutate(text: string, g: Gen): string {
  let out = text;
  for (let n = 1 + g.int(3); n > 0; n--) {
    const at = g.int(out.length + 1);
    const pick = g.int(3);
    if (pick === 0) out = out.slice(0, at) + out.slice(at + 1);
    else if (pick === 1) out = out.slice(0, at) + g.string('{}[],:" \n\t0.-e+tfnu\\/x\u00e9\u0001', 2) + out.slice(at);
    else if (g.chance(0.2)) out = out.slice(0, at);
  }
  return out;
}

t.test("agrees with JSON.parse on what is JSON, over 3000 mutated configs (seeded)", async (t) => {
  const g = new Gen(rng(Number(process.env.FUZZ_SEED ?? 7)));
  let disagree = 0;
  for (let i = 0; i < Number(process.env.FUZZ_COUNT ?? 3000); i++) {
    const text = mutate(pretty, g);
    let parses = true;
    try {
      JSON.parse(text);
    } catch {
      parses = false;
    }
    if (parses !== (syntaxError(text) === undefined)) {
      disagree++;
      if (disagree < 5) t.fail(`disagrees on ${JSON.stringify(text)}`);
    }
  }
  t.equal(disagree, 0);
});

const call = (stdin: string) => runPlugin({ command: "ADD", containerId: "mtjsonpos", netns: "/var/run/netns/mtns-jsonpos-none", stdin });

t.test("ADD: a netconf that is not JSON says where, in details", async (t) => {
  const r = await call('{\n  "cniVersion": "1.0.0",\n  "name": "m"\n  "type": "multus"\n}\n');
  t.equal(r.code, 1);
  t.match(r.json, { code: 6, msg: /^error decoding network config: / });
  t.equal(r.json?.details, `<stdin>:4:3: expected "," or "}" after the value of "name", got '"'`);
});

t.test("ADD: each problem the validator finds, at its line and column in details", async (t) => {
  const bad = JSON.stringify(
    { ...conf, "cni.dev/valid-attachments": undefined, delegates: [conf.delegates[0], { name: "evil", type: "../sh" }] },
    null,
    2,
  );
  const r = await call(bad);
  t.equal(r.code, 1);
  t.match(r.json, { code: 7, msg: "delegates[0].ipam.rangeStart: 10.9.0.5 is outside subnet 10.1.0.0/24" });
  const lineOf = (needle: string) => bad.split("\n").findIndex((l) => l.includes(needle)) + 1;
  t.equal(
    r.json?.details,
    [
      `<stdin>:${lineOf('"rangeStart"')}:23: delegates[0].ipam.rangeStart: 10.9.0.5 is outside subnet 10.1.0.0/24`,
      `<stdin>:${lineOf('"../sh"')}:15: delegates[1].type: "../sh" is a path; it must be a bare plugin name such as "bridge"`,
    ].join("\n"),
  );
});
