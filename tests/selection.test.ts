import t from "tap";
import { CniError, ErrorCode } from "../lib/cni/errors.ts";
import {
  DEFAULT_NETWORK_ANNOTATION,
  LEGACY_NETWORKS_ANNOTATION,
  NETWORKS_ANNOTATION,
  type NetworkSelection,
  parseDefaultNetworkAnnotation,
  parseLegacyNetworks,
  parseNetworkSelections,
} from "../lib/selection.ts";

const POD_NS = "ns1";
const MULTUS_NS = "kube-system";

type Test = Pick<typeof t, "equal" | "ok" | "fail" | "match">;

/** Runs `fn`, expects a CniError with code 7 whose message matches every pattern, and returns it. */
function rejects(t: Test, fn: () => unknown, ...patterns: (RegExp | string)[]): CniError | undefined {
  try {
    const got = fn();
    t.fail(`expected an error, got ${JSON.stringify(got)}`);
    return undefined;
  } catch (err) {
    if (!(err instanceof CniError)) {
      t.fail(`expected a CniError, got ${String(err)}`);
      return undefined;
    }
    t.equal(err.code, ErrorCode.InvalidNetworkConfig, "error code is InvalidNetworkConfig");
    for (const p of patterns) {
      if (typeof p === "string") t.ok(err.message.includes(p), `message ${JSON.stringify(err.message)} includes ${JSON.stringify(p)}`);
      else t.match(err.message, p);
    }
    return err;
  }
}

const sel = (name: string, namespace: string, extra: Partial<NetworkSelection> = {}): NetworkSelection => ({
  name,
  namespace,
  ...extra,
});

interface OkRow {
  row: string;
  title: string;
  value: string;
  podNamespace?: string;
  want: NetworkSelection[];
}

interface ErrRow {
  row: string;
  title: string;
  value: string;
  errors: (RegExp | string)[];
}

const KEY = `${NETWORKS_ANNOTATION}: `;

const accepted: OkRow[] = [
  { row: "1", title: "accepts a bare name in the pod namespace", value: "net1", want: [sel("net1", POD_NS)] },
  { row: "2", title: "accepts namespace/name", value: "default/net1", want: [sel("net1", "default")] },
  {
    row: "3",
    title: "accepts name@interface with an underscore",
    value: "net1@my_interface",
    want: [sel("net1", POD_NS, { interface: "my_interface" })],
  },
  {
    row: "4",
    title: "accepts namespace/name@interface",
    value: "default/net1@my_interface",
    want: [sel("net1", "default", { interface: "my_interface" })],
  },
  {
    row: "5",
    title: "accepts a comma list mixing namespaces",
    value: "net-a,net-b,other-ns/net-c",
    want: [sel("net-a", POD_NS), sel("net-b", POD_NS), sel("net-c", "other-ns")],
  },
  {
    row: "6",
    title: "keeps the same network twice as two selections",
    value: "net-a,net-a",
    want: [sel("net-a", POD_NS), sel("net-a", POD_NS)],
  },
  {
    row: "7",
    title: "trims every part of every item",
    value: " net1 , ns2 / net2 @ eth5 ",
    want: [sel("net1", POD_NS), sel("net2", "ns2", { interface: "eth5" })],
  },
  { row: "8", title: "ignores an empty interface after '@'", value: "net1@", want: [sel("net1", POD_NS)] },
  {
    row: "18",
    title: "accepts the JSON form with ips, mac and namespace",
    value: '[{"name":"net1"},{"name":"net2","ips":["1.2.3.4"],"mac":"aa:bb:cc:dd:ee:ff"},{"name":"net3","namespace":"other-ns"}]',
    want: [sel("net1", POD_NS), sel("net2", POD_NS, { ips: ["1.2.3.4"], mac: "aa:bb:cc:dd:ee:ff" }), sel("net3", "other-ns")],
  },
  {
    row: "19",
    title: "accepts IPv4 and IPv6 CIDRs in ips",
    value: '[{"name":"net-b","ips":["10.2.2.42/24","2001:db8::5/64"]}]',
    want: [sel("net-b", POD_NS, { ips: ["10.2.2.42/24", "2001:db8::5/64"] })],
  },
  {
    row: "22",
    title: "accepts an infiniband-guid",
    value: '[{"name":"net-b","infiniband-guid":"24:8a:07:03:00:8d:ae:2f"}]',
    want: [sel("net-b", POD_NS, { infinibandGuid: "24:8a:07:03:00:8d:ae:2f" })],
  },
  {
    row: "23",
    title: "uses the deprecated interfaceRequest",
    value: '[{"name":"n","interfaceRequest":"eth9"}]',
    want: [sel("n", POD_NS, { interface: "eth9" })],
  },
  {
    row: "24",
    title: "returns cni-args as given (merging into the NAD happens later)",
    value: '[{"name":"net-b","cni-args":{"spoofchk":"on"}}]',
    want: [sel("net-b", POD_NS, { cniArgs: { spoofchk: "on" } })],
  },
  {
    row: "25",
    title: "returns default-route only on the element that asks for it",
    value: '[{"name":"net-a"},{"name":"net-b","default-route":["10.0.0.1"]}]',
    want: [sel("net-a", POD_NS), sel("net-b", POD_NS, { defaultRoute: ["10.0.0.1"] })],
  },
  {
    row: "28",
    title: "returns portMappings for that attachment",
    value: '[{"name":"n","portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]}]',
    want: [sel("n", POD_NS, { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }] })],
  },
  {
    row: "29",
    title: "returns the target namespace for the isolation check to judge",
    value: "kube-system/net1",
    podNamespace: "test",
    want: [sel("net1", "kube-system")],
  },
  { row: "31", title: "selects nothing for an empty value", value: "", want: [] },
];

const rejected: ErrRow[] = [
  {
    row: "9",
    title: "rejects an item with more than one '/'",
    value: "root@someIP/root@someOtherIP/root@thirdIP",
    errors: [KEY, 'item 1 "root@someIP/root@someOtherIP/root@thirdIP"', "more than one '/'"],
  },
  {
    row: "10",
    title: "rejects an item with more than one '@'",
    value: "root@someIP/root@someOtherIP@garbagevalue",
    errors: [KEY, 'item 1 "root@someIP/root@someOtherIP@garbagevalue"', "more than one '@'"],
  },
  {
    row: "11",
    title: "rejects a namespace that is not a DNS-1123 label",
    value: "root@someIP/root@someOtherIP",
    errors: [
      KEY,
      'item 1 "root@someIP/root@someOtherIP" is not [namespace/]name[@interface]',
      `namespace "root@someIP" must consist of lower case alphanumeric characters or '-', and start and end with an alphanumeric character`,
    ],
  },
  {
    row: "12",
    title: "rejects an interface name with a space",
    value: "default/net1@myIfc Name",
    errors: [KEY, 'interface name "myIfc Name" must not contain whitespace'],
  },
  {
    row: "13",
    title: "rejects an interface name longer than 15 bytes",
    value: "default/net1@very_long_interface_name",
    errors: [KEY, 'interface name "very_long_interface_name" is longer than 15 bytes'],
  },
  {
    row: "14",
    title: "rejects an upper-case name",
    value: "Net1",
    errors: [KEY, 'item 1 "Net1"', 'name "Net1" must consist of lower case alphanumeric characters'],
  },
  {
    row: "14",
    title: "rejects a dotted name in the comma form",
    value: "net.1",
    errors: [KEY, 'name "net.1" must consist of lower case alphanumeric characters'],
  },
  {
    row: "15",
    title: "rejects a trailing comma at parse time",
    value: "net1,",
    errors: [KEY, "item 2 of 2 is empty", '"net1,"'],
  },
  {
    row: "15",
    title: "rejects a doubled comma at parse time",
    value: "a,,b",
    errors: [KEY, "item 2 of 3 is empty", '"a,,b"'],
  },
  {
    row: "16",
    title: "rejects malformed JSON",
    value: "[adsfasdfasdfasf]",
    errors: [KEY, "does not parse", '[{"name":"net1"', '"[adsfasdfasdfasf]"'],
  },
  {
    row: "17",
    title: "rejects a JSON object that is not in a list",
    value: '{"name":"net1"}',
    errors: [KEY, "JSON value must be a list", "got an object"],
  },
  {
    row: "20",
    title: "rejects an invalid mac",
    value: '[{"name":"n","mac":"zz"}]',
    errors: [KEY, 'item 1 ("n")', 'mac "zz" is not a MAC address'],
  },
  {
    row: "21",
    title: "rejects a CIDR prefix out of range",
    value: '[{"name":"n","ips":["10.0.0.1/33"]}]',
    errors: [KEY, 'ips[0] "10.0.0.1/33"', "prefix length 33 is out of range for IPv4 (0-32)"],
  },
  {
    row: "21",
    title: "rejects an ips entry that is not an address",
    value: '[{"name":"n","ips":["foo"]}]',
    errors: [KEY, 'ips[0] "foo" is not a valid IP address or CIDR'],
  },
  {
    row: "26",
    title: "rejects two IPv4 default gateways (ECMP)",
    value: '[{"name":"net-a","default-route":["10.0.0.1"]},{"name":"net-b","default-route":["10.0.0.2"]}]',
    errors: [
      KEY,
      "default-route: more than one IPv4 default gateway requested (ECMP is not supported)",
      '"10.0.0.1" (item 1 "net-a")',
      '"10.0.0.2" (item 2 "net-b")',
    ],
  },
  {
    row: "27",
    title: "rejects a default-route that is not an IP",
    value: '[{"name":"n","default-route":["x"]}]',
    errors: [KEY, 'default-route[0] "x" is not an IP address'],
  },
];

t.test("E.2 table: accepted values", async (t) => {
  for (const c of accepted) {
    t.test(`E.2 #${c.row} ${c.title}`, async (t) => {
      t.strictSame(parseNetworkSelections(c.value, c.podNamespace ?? POD_NS), c.want);
    });
  }
});

t.test("E.2 table: rejected values", async (t) => {
  for (const c of rejected) {
    t.test(`E.2 #${c.row} ${c.title}`, async (t) => {
      rejects(t, () => parseNetworkSelections(c.value, POD_NS), ...c.errors);
    });
  }
});

t.test("E.2 #30 default-network annotation", async (t) => {
  t.test("E.2 #30 resolves a bare name in the multus namespace", async (t) => {
    t.strictSame(parseDefaultNetworkAnnotation("calico-conf", MULTUS_NS), sel("calico-conf", MULTUS_NS));
  });
  t.test("E.2 #30 rejects more than one default network", async (t) => {
    rejects(
      t,
      () => parseDefaultNetworkAnnotation("a,b", MULTUS_NS),
      `${DEFAULT_NETWORK_ANNOTATION}: `,
      "exactly one network",
      "got 2",
      '"a,b"',
    );
  });
  t.test("E.2 #30 keeps an @interface and an explicit namespace", async (t) => {
    t.strictSame(parseDefaultNetworkAnnotation("other/calico@eth1", MULTUS_NS), sel("calico", "other", { interface: "eth1" }));
  });
  t.test("E.2 #30 accepts the JSON form with one element", async (t) => {
    t.strictSame(parseDefaultNetworkAnnotation('[{"name":"calico-conf"}]', MULTUS_NS), sel("calico-conf", MULTUS_NS));
  });
  t.test("E.2 #30 rejects an empty value", async (t) => {
    rejects(t, () => parseDefaultNetworkAnnotation("  ", MULTUS_NS), `${DEFAULT_NETWORK_ANNOTATION}: `, "got 0");
  });
  t.test("E.2 #30 names its own key in grammar errors", async (t) => {
    rejects(t, () => parseDefaultNetworkAnnotation("Calico", MULTUS_NS), `${DEFAULT_NETWORK_ANNOTATION}: item 1 "Calico"`);
  });
});

t.test("E.2 legacy networks annotation", async (t) => {
  t.test("E.2 #L1 returns the names of a v1.x JSON list in order", async (t) => {
    t.strictSame(parseLegacyNetworks('[{"name":"flannel-conf"},{"name":"sriov-conf"},{"name":"sriov-vlanid-l2enable-conf"}]'), [
      { name: "flannel-conf" },
      { name: "sriov-conf" },
      { name: "sriov-vlanid-l2enable-conf" },
    ]);
  });
  t.test("E.2 #L2 rejects a bare name and shows the JSON list form", async (t) => {
    rejects(
      t,
      () => parseLegacyNetworks("flannel-conf"),
      `${LEGACY_NETWORKS_ANNOTATION}: this legacy annotation must be a JSON list`,
      '[{"name":"flannel-conf"}',
      'got "flannel-conf"',
      NETWORKS_ANNOTATION,
    );
  });
  t.test("ignores keys other than name", async (t) => {
    t.strictSame(parseLegacyNetworks('[{"name":"a","interfaceRequest":"x"}]'), [{ name: "a" }]);
  });
  t.test("selects nothing for an empty value", async (t) => {
    t.strictSame(parseLegacyNetworks(" "), []);
  });
  t.test("rejects a JSON object and an element without a name", async (t) => {
    rejects(t, () => parseLegacyNetworks('{"name":"a"}'), "must be a JSON list");
    rejects(t, () => parseLegacyNetworks('[{"name":"a"},{"nam":"b"}]'), 'item 2 must be an object with a non-empty "name"');
    rejects(t, () => parseLegacyNetworks('[{"name":"../x"}]'), 'name "../x" must consist');
  });
});

t.test("parseNetworkSelections() comma form details", async (t) => {
  t.strictSame(parseNetworkSelections(" \t ", POD_NS), [], "whitespace-only value selects nothing");
  rejects(t, () => parseNetworkSelections("net1,root@some/x", POD_NS), 'item 2 "root@some/x"', 'namespace "root@some"');
  rejects(t, () => parseNetworkSelections("/net1", POD_NS), "the namespace before '/' is empty");
  rejects(t, () => parseNetworkSelections("ns1/@eth1", POD_NS), "the network name is empty");
  rejects(t, () => parseNetworkSelections("net1@.", POD_NS), "must not be '.' or '..'");
  rejects(t, () => parseNetworkSelections("net1@..", POD_NS), "must not be '.' or '..'");
  rejects(t, () => parseNetworkSelections("net1@a:b", POD_NS), "must not contain ':'");
  t.strictSame(parseNetworkSelections("net1@eth0.100", POD_NS), [sel("net1", POD_NS, { interface: "eth0.100" })]);
  t.strictSame(
    parseNetworkSelections("n@abcdefghijklmno", POD_NS),
    [sel("n", POD_NS, { interface: "abcdefghijklmno" })],
    "15 bytes is fine",
  );
  rejects(t, () => parseNetworkSelections("n@abcdefghijklmné", POD_NS), "longer than 15 bytes");
});

t.test("parseNetworkSelections() JSON form details", async (t) => {
  const one = (el: Record<string, unknown>): NetworkSelection[] => parseNetworkSelections(JSON.stringify([el]), POD_NS);

  t.test("name is required and must be a valid object name", async (t) => {
    rejects(t, () => one({ namespace: "x" }), 'item 1: "name" is required');
    rejects(t, () => one({ name: "" }), '"name" is required');
    rejects(t, () => one({ name: 5 }), '"name" must be a string');
    rejects(t, () => one({ name: "a/b" }), 'name "a/b" must consist');
    t.strictSame(one({ name: "net.a" }), [sel("net.a", POD_NS)], "dotted names are fine in JSON");
  });
  t.test("elements must be objects", async (t) => {
    rejects(t, () => parseNetworkSelections('["net1"]', POD_NS), 'item 1 must be an object such as {"name":"net1"}, got "net1"');
  });
  t.test("namespace: empty means the pod namespace, invalid is rejected", async (t) => {
    t.strictSame(one({ name: "a", namespace: "" }), [sel("a", POD_NS)]);
    rejects(t, () => one({ name: "a", namespace: "Bad_NS" }), 'item 1 ("a"): namespace "Bad_NS" must consist');
  });
  t.test("interface wins over interfaceRequest and is validated", async (t) => {
    t.strictSame(one({ name: "a", interface: "eth1", interfaceRequest: "eth2" }), [sel("a", POD_NS, { interface: "eth1" })]);
    t.strictSame(one({ name: "a", interface: "", interfaceRequest: "eth2" }), [sel("a", POD_NS, { interface: "eth2" })]);
    rejects(t, () => one({ name: "a", interface: "a-very-long-interface" }), "longer than 15 bytes");
    rejects(t, () => one({ name: "a", interface: "x/y" }), "must not contain '/'");
    rejects(t, () => one({ name: "a", interfaceRequest: ".." }), "must not be '.' or '..'");
  });
  t.test("ips", async (t) => {
    t.strictSame(one({ name: "a", ips: ["10.0.0.1", "fd00::1", "10.0.0.0/8", "::/0"] }), [
      sel("a", POD_NS, { ips: ["10.0.0.1", "fd00::1", "10.0.0.0/8", "::/0"] }),
    ]);
    t.strictSame(one({ name: "a", ips: [] }), [sel("a", POD_NS)], "an empty list requests nothing");
    rejects(t, () => one({ name: "a", ips: ["2001:db8::1/129"] }), "out of range for IPv6 (0-128)");
    rejects(t, () => one({ name: "a", ips: ["10.0.0.1/"] }), 'prefix length "" is not a number');
    rejects(t, () => one({ name: "a", ips: ["010.0.0.1"] }), "is not a valid IP address");
    rejects(t, () => one({ name: "a", ips: ["fe80::1%eth0"] }), "is not a valid IP address");
    rejects(t, () => one({ name: "a", ips: "10.0.0.1" }), '"ips" must be a list of strings');
  });
  t.test("mac and infiniband-guid forms", async (t) => {
    for (const mac of ["aa:bb:cc:dd:ee:ff", "AA-BB-CC-DD-EE-FF", "02:00:5e:10:00:00:00:01", Array(20).fill("0a").join(":")]) {
      t.strictSame(one({ name: "a", mac }), [sel("a", POD_NS, { mac })], mac);
    }
    for (const mac of ["aa:bb:cc:dd:ee", "aa:bb-cc:dd:ee:ff", "aabb.ccdd.eeff", "a:b:c:d:e:f", "gg:bb:cc:dd:ee:ff"]) {
      rejects(t, () => one({ name: "a", mac }), `mac ${JSON.stringify(mac)} is not a MAC address`);
    }
    rejects(t, () => one({ name: "a", "infiniband-guid": "nope" }), 'infiniband-guid "nope" is not a GUID');
  });
  t.test("default-route: IPv6 ECMP, one per family, and an empty list", async (t) => {
    t.strictSame(parseNetworkSelections('[{"name":"a","default-route":["10.0.0.1","fd00::1"]},{"name":"b","default-route":[]}]', POD_NS), [
      sel("a", POD_NS, { defaultRoute: ["10.0.0.1", "fd00::1"] }),
      sel("b", POD_NS, { defaultRoute: [] }),
    ]);
    t.strictSame(parseNetworkSelections('[{"name":"a","default-route":["10.0.0.1"]},{"name":"b","default-route":["fd00::1"]}]', POD_NS), [
      sel("a", POD_NS, { defaultRoute: ["10.0.0.1"] }),
      sel("b", POD_NS, { defaultRoute: ["fd00::1"] }),
    ]);
    rejects(
      t,
      () => parseNetworkSelections('[{"name":"a","default-route":["fd00::1"]},{"name":"b","default-route":["fd00::2"]}]', POD_NS),
      "more than one IPv6 default gateway requested (ECMP is not supported)",
    );
    rejects(t, () => one({ name: "a", "default-route": ["10.0.0.1", "10.0.0.2"] }), "more than one IPv4 default gateway");
    rejects(t, () => one({ name: "a", "default-route": ["10.0.0.1/24"] }), 'default-route[0] "10.0.0.1/24" is not an IP address');
  });
  t.test("cni-args, bandwidth, portMappings and deviceID", async (t) => {
    t.strictSame(
      one({
        name: "a",
        "cni-args": { spoofchk: "on", nested: { x: 1 } },
        bandwidth: { ingressRate: 1000, ingressBurst: 2000 },
        portMappings: [{ hostPort: 80, containerPort: 8080, protocol: "udp", hostIP: "10.0.0.1" }],
        deviceID: "0000:03:00.1",
      }),
      [
        sel("a", POD_NS, {
          cniArgs: { spoofchk: "on", nested: { x: 1 } },
          bandwidth: { ingressRate: 1000, ingressBurst: 2000 },
          portMappings: [{ hostPort: 80, containerPort: 8080, protocol: "udp", hostIP: "10.0.0.1" }],
          deviceID: "0000:03:00.1",
        }),
      ],
    );
    rejects(t, () => one({ name: "a", "cni-args": ["x"] }), '"cni-args" must be an object');
    rejects(t, () => one({ name: "a", bandwidth: 5 }), '"bandwidth" must be an object');
    rejects(t, () => one({ name: "a", bandwidth: { egressRate: -1 } }), '"bandwidth.egressRate" must be a non-negative integer');
    rejects(t, () => one({ name: "a", portMappings: {} }), '"portMappings" must be a list of objects');
    rejects(t, () => one({ name: "a", portMappings: ["80:80"] }), '"portMappings[0]" must be an object');
    rejects(t, () => one({ name: "a", portMappings: [{ hostPort: 80 }] }), '"portMappings[0].containerPort" is required');
    rejects(
      t,
      () => one({ name: "a", portMappings: [{ hostPort: 70000, containerPort: 80 }] }),
      '"portMappings[0].hostPort" must be a port number (1-65535), got 70000',
    );
    rejects(
      t,
      () => one({ name: "a", portMappings: [{ hostPort: 80, containerPort: 80, hostIP: "x" }] }),
      '"portMappings[0].hostIP" must be an IP address',
    );
    rejects(t, () => one({ name: "a", deviceID: 7 }), '"deviceID" must be a string');
  });
  t.test("unknown keys and null values are ignored", async (t) => {
    t.strictSame(one({ name: "a", "ipam-claim-reference": "c", mac: null, ips: null, interface: null }), [sel("a", POD_NS)]);
  });
});
