// network-status entries built from delegate results.
import t from "tap";
import { normaliseResult } from "../lib/cni/result.ts";
import { buildNetworkStatus } from "../lib/network-status.ts";

t.test("bridge-like result: the sandbox interface, its IPs without prefix, its MAC", async (t) => {
  const r = normaliseResult(
    {
      cniVersion: "1.0.0",
      interfaces: [
        { name: "cni0", mac: "00:00:00:00:00:01" },
        { name: "veth1", mac: "00:00:00:00:00:02" },
        { name: "eth0", mac: "0a:58:0a:f4:00:05", sandbox: "/run/netns/x" },
      ],
      ips: [{ address: "10.244.0.5/24", gateway: "10.244.0.1", interface: 2 }],
      routes: [{ dst: "0.0.0.0/0", gw: "10.244.0.1" }],
      dns: { nameservers: ["10.96.0.10"], search: ["svc.cluster.local"] },
    },
    "1.0.0",
  );
  t.same(buildNetworkStatus("cbr0", "eth0", true, r), {
    name: "cbr0",
    interface: "eth0",
    ips: ["10.244.0.5"],
    mac: "0a:58:0a:f4:00:05",
    default: true,
    dns: { nameservers: ["10.96.0.10"], search: ["svc.cluster.local"] },
    gateway: ["10.244.0.1"],
  });
});

t.test("a result without interfaces still gives an entry with its IPs", async (t) => {
  const r = normaliseResult({ cniVersion: "0.2.0", ip4: { ip: "10.9.0.2/16" } }, "0.2.0");
  t.same(buildNetworkStatus("ns/net-a", "net1", false, r), { name: "ns/net-a", interface: "net1", ips: ["10.9.0.2"], dns: {} });
});

t.test("a dual-stack result: both addresses, and both default gateways (IPv4 and IPv6)", async (t) => {
  const r = normaliseResult(
    {
      cniVersion: "1.0.0",
      interfaces: [{ name: "eth0", mac: "0a:58:0a:f4:00:06", sandbox: "/run/netns/x" }],
      ips: [
        { address: "10.244.0.6/24", gateway: "10.244.0.1", interface: 0 },
        { address: "fd00:10:244::6/64", gateway: "fd00:10:244::1", interface: 0 },
      ],
      routes: [{ dst: "0.0.0.0/0", gw: "10.244.0.1" }, { dst: "10.96.0.0/12" }, { dst: "::/0", gw: "fd00:10:244::1" }],
    },
    "1.0.0",
  );
  const st = buildNetworkStatus("cbr0", "eth0", true, r);
  t.same(st.ips, ["10.244.0.6", "fd00:10:244::6"]);
  t.same(st.gateway, ["10.244.0.1", "fd00:10:244::1"], "the IPv6 default gateway is kept");
});

t.test("mtu and dns.options, when the result has them (as upstream writes them since v4.3)", async (t) => {
  const r = normaliseResult(
    {
      cniVersion: "1.1.0",
      interfaces: [
        { name: "br0", mac: "00:00:00:00:00:01", mtu: 9000 },
        { name: "net1", mac: "0a:58:0a:f4:00:07", mtu: 8950, sandbox: "/run/netns/x" },
      ],
      ips: [{ address: "10.1.0.7/24", interface: 1 }],
      dns: { nameservers: ["10.96.0.10"], options: ["ndots:5", "edns0"] },
    },
    "1.1.0",
  );
  t.same(buildNetworkStatus("ns/jumbo", "net1", false, r), {
    name: "ns/jumbo",
    interface: "net1",
    ips: ["10.1.0.7"],
    mac: "0a:58:0a:f4:00:07",
    mtu: 8950,
    dns: { nameservers: ["10.96.0.10"], options: ["ndots:5", "edns0"] },
  });
  const plain = normaliseResult({ cniVersion: "1.0.0", interfaces: [{ name: "net1", sandbox: "/x" }], dns: { options: [] } }, "1.0.0");
  t.same(buildNetworkStatus("n", "net1", false, plain), { name: "n", interface: "net1", dns: {} }, "none when absent or empty");
});
