// The validator never throws and always answers well-formed JSON, for random
// and mutated inputs (seeded, bounded in count and time).
import t from "tap";
import { validateInput } from "../lib/validate.ts";
import { Gen, rng } from "./helpers/fuzz.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 7);
const N = Number(process.env.FUZZ_COUNT ?? 3000);

const SAMPLE = {
  netconf: {
    cniVersion: "1.0.0",
    name: "m",
    delegates: [
      { name: "a", type: "bridge", ipam: { type: "host-local", ranges: [[{ subnet: "10.1.0.0/24", rangeStart: "10.1.0.5", gateway: "10.1.0.1" }]], routes: [{ dst: "0.0.0.0/0" }] } },
      { name: "b", plugins: [{ type: "ptp", ipam: { type: "static", addresses: [{ address: "fd00::2/64" }] } }] },
    ],
  },
  attachments: [{ path: "ns/c", ifname: "net2", config: { name: "c", type: "macvlan", ipam: { type: "whereabouts", range: "10.9.0.0/16", exclude: ["10.9.0.0/24"] } } }],
};

t.test(`validator fuzz (seed ${SEED})`, async (t) => {
  const g = new Gen(rng(SEED));
  const start = Date.now();
  let n = 0;
  const kinds = { valid: 0, invalid: 0 };
  for (; n < N && Date.now() - start < 8000; n++) {
    const input = g.chance(0.1) ? g.json(4) : g.mutate(g.mutate(SAMPLE));
    let a;
    try {
      a = validateInput(input as Parameters<typeof validateInput>[0]);
    } catch (e) {
      t.fail(`threw on ${JSON.stringify(input)}: ${e}`);
      return;
    }
    if (a.type !== "valid" && a.type !== "invalid") return t.fail(`bad answer ${JSON.stringify(a)}`);
    for (const p of a.type === "invalid" ? [...a.errors, ...a.warnings] : a.warnings) {
      if (typeof p.path !== "string" || typeof p.message !== "string") return t.fail(`bad problem ${JSON.stringify(p)}`);
    }
    kinds[a.type]++;
  }
  t.ok(n > 0, `${n} inputs: ${kinds.valid} valid, ${kinds.invalid} invalid`);
});
