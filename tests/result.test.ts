// Result parsing and conversion between every pair of spec generations.
import t from "tap";
import { convertResult } from "../lib/cni/convert.ts";
import { normaliseResult, withDefaultRoutes } from "../lib/cni/result.ts";
import { SUPPORTED_VERSIONS } from "../lib/cni/version.ts";

const v100 = {
  cniVersion: "1.1.0",
  interfaces: [{ name: "eth0", mac: "aa:bb:cc:dd:ee:ff", sandbox: "/run/netns/x", mtu: 1400, pciID: "0000:01:00.0" }],
  ips: [
    { address: "10.1.0.5/24", gateway: "10.1.0.1", interface: 0 },
    { address: "fd00::5/64", gateway: "fd00::1", interface: 0 },
  ],
  routes: [{ dst: "0.0.0.0/0", gw: "10.1.0.1", mtu: 1300 }, { dst: "::/0" }],
  dns: { nameservers: ["10.1.0.2"] },
};

t.test("1.1.0 → 0.4.0 adds ips[].version and drops 1.1-only fields", async (t) => {
  const out = convertResult(normaliseResult(v100, "1.1.0"), "0.4.0");
  t.same(out, {
    cniVersion: "0.4.0",
    interfaces: [{ name: "eth0", mac: "aa:bb:cc:dd:ee:ff", sandbox: "/run/netns/x" }],
    ips: [
      { version: "4", address: "10.1.0.5/24", gateway: "10.1.0.1", interface: 0 },
      { version: "6", address: "fd00::5/64", gateway: "fd00::1", interface: 0 },
    ],
    routes: [{ dst: "0.0.0.0/0", gw: "10.1.0.1" }, { dst: "::/0" }],
    dns: { nameservers: ["10.1.0.2"] },
  });
});

t.test("1.1.0 → 1.1.0 keeps mtu and pciID; → 1.0.0 drops them", async (t) => {
  const hub = normaliseResult(v100, "1.1.0");
  const same = convertResult(hub, "1.1.0") as typeof v100;
  t.equal(same.interfaces[0].mtu, 1400);
  t.equal(same.routes[0].mtu, 1300);
  const one = convertResult(hub, "1.0.0") as typeof v100;
  t.notOk("mtu" in one.interfaces[0]);
  t.notOk("pciID" in one.interfaces[0]);
  t.same(one.routes[0], { dst: "0.0.0.0/0", gw: "10.1.0.1" });
});

t.test("→ 0.2.0 takes the first address of each family and splits routes", async (t) => {
  t.same(convertResult(normaliseResult(v100, "1.1.0"), "0.2.0"), {
    cniVersion: "0.2.0",
    ip4: { ip: "10.1.0.5/24", gateway: "10.1.0.1", routes: [{ dst: "0.0.0.0/0", gw: "10.1.0.1" }] },
    ip6: { ip: "fd00::5/64", gateway: "fd00::1", routes: [{ dst: "::/0" }] },
    dns: { nameservers: ["10.1.0.2"] },
  });
});

t.test("→ 0.1.0 without any address is an error, as the spec says", async (t) => {
  t.throws(() => convertResult(normaliseResult({ cniVersion: "1.0.0", interfaces: [{ name: "eth0" }] }, "1.0.0"), "0.1.0"), {
    code: 1,
    message: /has no IP address/,
  });
});

t.test("0.2.0 → 0.3.1 and 1.0.0: ip4/ip6 become ips, routes are concatenated", async (t) => {
  const old = {
    cniVersion: "0.2.0",
    ip4: { ip: "10.2.0.3/16", gateway: "10.2.0.1", routes: [{ dst: "10.9.0.0/16" }] },
    ip6: { ip: "fd01::3/64", routes: [{ dst: "fd02::/64", gw: "fd01::1" }] },
  };
  const hub = normaliseResult(old, "0.2.0");
  t.same(convertResult(hub, "0.3.1"), {
    cniVersion: "0.3.1",
    ips: [
      { version: "4", address: "10.2.0.3/16", gateway: "10.2.0.1" },
      { version: "6", address: "fd01::3/64" },
    ],
    routes: [{ dst: "10.9.0.0/16" }, { dst: "fd02::/64", gw: "fd01::1" }],
  });
  t.same((convertResult(hub, "1.0.0") as { ips: unknown[] }).ips, [
    { address: "10.2.0.3/16", gateway: "10.2.0.1" },
    { address: "fd01::3/64" },
  ]);
});

t.test("a result without cniVersion is read in the config's version", async (t) => {
  const hub = normaliseResult({ ip4: { ip: "10.3.0.2/24" } }, "0.2.0");
  t.same(hub.ips, [{ address: "10.3.0.2/24" }]);
});

t.test("unknown result versions and garbage are clean errors", async (t) => {
  t.throws(() => normaliseResult({ cniVersion: "7.0.0" }, "1.0.0"), { code: 1, message: /unsupported CNI result version "7.0.0"/ });
  t.throws(() => normaliseResult("not json", "1.0.0"), { code: 6 });
  t.throws(() => normaliseResult([], "1.0.0"), { code: 6 });
  t.throws(() => convertResult(normaliseResult(v100, "1.1.0"), "2.0.0"), { code: 1, message: /no converter/ });
});

t.test("conversion copies: the input is never modified", async (t) => {
  const hub = normaliseResult(v100, "1.1.0");
  const snapshot = JSON.stringify(hub);
  for (const v of SUPPORTED_VERSIONS) {
    const out = convertResult(hub, v) as { dns?: { nameservers?: string[] } };
    if (out.dns?.nameservers) out.dns.nameservers.push("mutated");
  }
  t.equal(JSON.stringify(hub), snapshot);
});

t.test("withDefaultRoutes: a result's default routes replaced by the gateways asked for, in its own shape", async (t) => {
  const r100 = {
    cniVersion: "1.0.0",
    ips: [{ address: "10.1.0.2/24", gateway: "10.1.0.1" }],
    routes: [{ dst: "0.0.0.0/0", gw: "10.1.0.1" }, { dst: "10.9.0.0/16" }, { dst: "::0/0", gw: "fd00::1" }],
    custom: { kept: true },
  };
  t.same(withDefaultRoutes(r100, ["10.1.0.254"]).routes, [{ dst: "10.9.0.0/16" }, { dst: "0.0.0.0/0", gw: "10.1.0.254" }]);
  t.same(withDefaultRoutes(r100, ["fd00::9"]).routes, [{ dst: "10.9.0.0/16" }, { dst: "::/0", gw: "fd00::9" }]);
  t.same(withDefaultRoutes(r100, []).custom, { kept: true }, "unknown keys kept");
  t.same(r100.routes.length, 3, "a copy: the input is not modified");
  const noRoutes = withDefaultRoutes({ cniVersion: "0.4.0", routes: [{ dst: "0.0.0.0/0" }] }, []);
  t.notOk("routes" in noRoutes, "no routes left: no routes key, as upstream writes it");
  const v020 = {
    cniVersion: "0.2.0",
    ip4: { ip: "10.1.0.2/24", routes: [{ dst: "0.0.0.0/0", gw: "10.1.0.1" }] },
    ip6: { ip: "fd00::2/64", routes: [{ dst: "fd01::/64" }] },
  };
  const out = withDefaultRoutes(v020, ["fd00::1"]);
  t.same(out.ip4, { ip: "10.1.0.2/24" });
  t.same(out.ip6, { ip: "fd00::2/64", routes: [{ dst: "fd01::/64" }, { dst: "::/0", gw: "fd00::1" }] });
});
