// The validator never throws and always answers well-formed JSON of the
// answer's shape, for random and mutated inputs and for raw text that is not
// JSON at all (seeded, bounded in count and time).
import t from "tap";
import type { JsonObject } from "../lib/json.ts";
import { type ValidationAnswer, type ValidatorInput, validateInput } from "../lib/validate.ts";
import { wasmBytes } from "../lib/wasm-bytes.ts";
import { instantiate } from "../wasm/pkg/multus_validator.js";
import { Gen, rng } from "./helpers/fuzz.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 7);
const N = Number(process.env.FUZZ_COUNT ?? 3000);
const BUDGET_MS = 8000;

const SAMPLE = {
  netconf: {
    cniVersion: "1.0.0",
    name: "m",
    delegates: [
      {
        name: "a",
        type: "bridge",
        ifnameRequest: "net1",
        ipam: {
          type: "host-local",
          ranges: [[{ subnet: "10.1.0.0/24", rangeStart: "10.1.0.5", rangeEnd: "10.1.0.50", gateway: "10.1.0.1" }]],
          routes: [{ dst: "0.0.0.0/0", gw: "10.1.0.1" }],
        },
      },
      {
        name: "b",
        plugins: [
          { type: "ptp", ipam: { type: "static", addresses: [{ address: "fd00::2/64", gateway: "fd00::1" }] } },
          { type: "tuning" },
        ],
      },
    ],
  },
  attachments: [
    {
      path: "ns/c",
      ifname: "net2",
      config: {
        name: "c",
        type: "macvlan",
        ipam: { type: "whereabouts", range: "10.9.0.0/16", range_start: "10.9.0.10", exclude: ["10.9.0.0/24"] },
      },
    },
    {
      path: "ns/d",
      ifname: "net3",
      config: { name: "d", type: "ipvlan", ipam: { type: "host-local", subnet: "fd09::/64", gateway: "fd09::1" } },
    },
  ],
};

/** Values near the validator's edges: addresses, prefixes, names, numbers. */
function edgy(g: Gen): unknown {
  const octet = () => g.pick([0, 1, 9, 10, 127, 254, 255, 256, -1]);
  switch (g.int(7)) {
    case 0:
      return `${octet()}.${octet()}.${octet()}.${octet()}${g.chance(0.6) ? `/${g.pick([0, 1, 8, 24, 30, 31, 32, 33, 99, 128, 129])}` : ""}`;
    case 1:
      return `${g.pick(["fd00::", "::", "::1", "fe80::1%eth0", "fd00:0:0:1::", "1:2:3:4:5:6:7:8:9", "::ffff:10.0.0.1", ":::"])}${g.chance(0.6) ? `/${g.pick([0, 48, 64, 127, 128, 129, 1000])}` : ""}`;
    case 2:
      return g.pick([
        "",
        ".",
        "..",
        "a/b",
        "a\\b",
        "eth0",
        "net1",
        "a:b",
        "a b",
        "x".repeat(16),
        "é".repeat(8),
        "bridge",
        "../bridge",
        "-x",
      ]);
    case 3:
      return g.pick(["0.1.0", "0.4.0", "1.0.0", "1.1.0", "2.0.0", "", "1"]);
    case 4:
      return g.pick([0, -1, 0.001, 1e308, -0, 2 ** 64, 10 ** 30]);
    case 5:
      return g.string("0123456789abcdef.:/-%", 40);
    default:
      return g.json(2);
  }
}

/** Like Gen.mutate, but replaced values are often edge values. */
function mutate(g: Gen, v: unknown, depth = 0): unknown {
  if (v === null || typeof v !== "object" || depth > 6 || g.chance(0.15)) return g.chance(0.7) ? edgy(g) : g.json(2);
  if (Array.isArray(v)) {
    const c = [...v];
    if (c.length && g.chance(0.2)) c.splice(g.int(c.length), 1);
    else if (c.length && g.chance(0.25)) c.push(structuredClone(c[g.int(c.length)]));
    else if (c.length) {
      const i = g.int(c.length);
      c[i] = mutate(g, c[i], depth + 1);
    } else c.push(edgy(g));
    return c;
  }
  const o: Record<string, unknown> = { ...(v as Record<string, unknown>) };
  const keys = Object.keys(o);
  if (keys.length && g.chance(0.15)) delete o[g.pick(keys)];
  else if (keys.length && g.chance(0.85)) {
    const k = g.pick(keys);
    o[k] = mutate(g, o[k], depth + 1);
  } else
    o[
      g.pick([
        "masterplugin",
        "ifnameRequest",
        "gateway",
        "subnet",
        "rangeStart",
        "routes",
        "ranges",
        "range",
        "exclude",
        "ipRanges",
        "addresses",
        "kubeconfig",
        "clusterNetwork",
        "always_use_default",
        "zz",
      ])
    ] = edgy(g);
  return o;
}

function checkShape(a: unknown): string | undefined {
  if (typeof a !== "object" || a === null) return "not an object";
  const o = a as Record<string, unknown>;
  const problems = (l: unknown) =>
    Array.isArray(l) &&
    l.every((p) => typeof p?.path === "string" && typeof p?.message === "string" && p.message !== "" && Object.keys(p).length === 2);
  if (o.type === "valid") return Object.keys(o).length === 2 && problems(o.warnings) ? undefined : "bad valid answer";
  if (o.type === "invalid")
    return Object.keys(o).length === 3 && problems(o.errors) && (o.errors as unknown[]).length > 0 && problems(o.warnings)
      ? undefined
      : "bad invalid answer";
  return "unknown type";
}

t.test(`validator fuzz through validateInput (seed ${SEED})`, async (t) => {
  const g = new Gen(rng(SEED));
  const start = Date.now();
  const kinds = { valid: 0, invalid: 0 };
  let n = 0;
  for (; n < N && Date.now() - start < BUDGET_MS; n++) {
    let input: unknown = SAMPLE;
    for (let k = 1 + g.int(4); k > 0; k--) input = mutate(g, input);
    if (g.chance(0.05)) input = g.json(4);
    let a: ValidationAnswer;
    try {
      a = validateInput(input as ValidatorInput);
    } catch (e) {
      t.fail(`threw on ${JSON.stringify(input)}: ${e}`);
      return;
    }
    const bad = checkShape(a);
    if (bad) return t.fail(`${bad}: ${JSON.stringify(a)} for ${JSON.stringify(input)}`);
    // Same input, same answer.
    if (n % 50 === 0) t.same(validateInput(input as ValidatorInput), a, "deterministic");
    kinds[a.type]++;
  }
  t.ok(n > 0 && kinds.valid > 0 && kinds.invalid > 0, `${n} inputs: ${kinds.valid} valid, ${kinds.invalid} invalid`);
});

t.test(`validator fuzz on raw text through the loader (seed ${SEED})`, async (t) => {
  const g = new Gen(rng(SEED + 1));
  const v = instantiate(wasmBytes());
  const text = JSON.stringify(SAMPLE);
  const start = Date.now();
  let n = 0;
  for (; n < N / 3 && Date.now() - start < BUDGET_MS / 4; n++) {
    let input: string;
    switch (g.int(4)) {
      case 0: // truncated
        input = text.slice(0, g.int(text.length));
        break;
      case 1: {
        // one character changed
        const i = g.int(text.length);
        input = text.slice(0, i) + g.pick(['"', "{", "}", "[", "]", ",", ":", "\\", "\u0000", "\ud800", "é", "0", " "]) + text.slice(i + 1);
        break;
      }
      case 2: // random characters, including lone surrogates
        input = Array.from({ length: g.int(64) }, () => String.fromCharCode(g.int(0x10000))).join("");
        break;
      default: // deep nesting
        input = "[".repeat(g.int(400)) + "]".repeat(g.int(400));
    }
    let out: string;
    try {
      out = v.validate(input);
    } catch (e) {
      return t.fail(`threw on ${JSON.stringify(input)}: ${e}`);
    }
    let a: unknown;
    try {
      a = JSON.parse(out);
    } catch {
      return t.fail(`answer is not JSON: ${out}`);
    }
    const bad = checkShape(a);
    if (bad) return t.fail(`${bad}: ${out} for ${JSON.stringify(input)}`);
  }
  t.ok(n > 0, `${n} raw inputs`);
  // The instance is still sound afterwards.
  const good: { netconf: JsonObject } = { netconf: { name: "m", delegates: [{ name: "b", type: "bridge" }] } };
  t.same(JSON.parse(v.validate(JSON.stringify(good))), { type: "valid", warnings: [] });
});
