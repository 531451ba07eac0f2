//! One test per rule, through the same entry point the plugin uses.

use crate::validate_str;
use serde_json::{json, Value};

fn answer(input: Value) -> Value {
    serde_json::from_str(&validate_str(&input.to_string())).unwrap()
}

fn errors(input: Value) -> Vec<(String, String)> {
    let a = answer(input);
    a.get("errors")
        .and_then(Value::as_array)
        .map(|l| l.iter().map(|e| (e["path"].as_str().unwrap().to_string(), e["message"].as_str().unwrap().to_string())).collect())
        .unwrap_or_default()
}

fn has(input: Value, path: &str, msg: &str) {
    let errs = errors(input);
    assert!(errs.iter().any(|(p, m)| p == path && m.contains(msg)), "expected {} / {} in {:?}", path, msg, errs);
}

/// Valid, with this warning among its warnings.
fn warns(input: Value, path: &str, msg: &str) {
    let a = answer(input);
    assert_eq!(a["type"], "valid", "{}", a);
    let w = a["warnings"].as_array().unwrap();
    assert!(
        w.iter().any(|w| w["path"] == path && w["message"].as_str().unwrap().contains(msg)),
        "expected warning {} / {} in {}",
        path,
        msg,
        a
    );
}

fn valid(input: Value) {
    let a = answer(input);
    assert_eq!(a["type"], "valid", "{}", a);
}

fn nc(delegates: Value) -> Value {
    json!({"netconf": {"cniVersion": "1.0.0", "name": "m", "type": "multus", "delegates": delegates}})
}

fn hl(subnet: &str, extra: Value) -> Value {
    let mut ipam = json!({"type": "host-local", "subnet": subnet});
    for (k, v) in extra.as_object().unwrap() {
        ipam[k] = v.clone();
    }
    json!({"name": "n", "type": "bridge", "ipam": ipam})
}

#[test]
fn a_good_netconf_is_valid() {
    valid(nc(
        json!([hl("10.1.0.0/24", json!({"rangeStart": "10.1.0.10", "rangeEnd": "10.1.0.20", "gateway": "10.1.0.1"})), {"name": "p", "type": "ptp"}]),
    ));
}

#[test]
fn netconf_field_types() {
    let bad = json!({"netconf": {"name": 5, "cniVersion": "9.9.9", "delegates": {}, "cniDir": 1, "namespaceIsolation": "yes",
        "defaultNetworks": ["a", 1], "delegateTimeout": 0, "logLevel": "loud", "capabilities": {"ips": "yes"}, "kubeconfig": "/k"}});
    let e = errors(bad);
    for p in [
        "name",
        "cniVersion",
        "delegates",
        "cniDir",
        "namespaceIsolation",
        "defaultNetworks",
        "delegateTimeout",
        "logLevel",
        "capabilities",
    ] {
        assert!(e.iter().any(|(q, _)| q == p), "no error for {} in {:?}", p, e);
    }
}

#[test]
fn unknown_fields_are_warnings() {
    let a = answer(json!({"netconf": {"name": "m", "delegates": [{"type": "bridge"}], "colour": "blue"}}));
    assert_eq!(a["type"], "valid");
    assert!(a["warnings"].as_array().unwrap().iter().any(|w| w["path"] == "colour"));
}

#[test]
fn delegates_required_without_kubeconfig() {
    has(json!({"netconf": {"name": "m"}}), "delegates", "must list at least one network");
    valid(json!({"netconf": {"name": "m", "kubeconfig": "/etc/k"}}));
    valid(json!({"netconf": {"name": "m", "clusterNetwork": "flannel"}}));
}

#[test]
fn one_masterplugin_at_most() {
    has(nc(json!([{"type": "a", "masterplugin": true}, {"type": "b", "masterplugin": true}])), "delegates[1]", "only one delegate");
    has(nc(json!([{"type": "a", "masterplugin": "yes"}])), "delegates[0].masterplugin", "true or false");
}

#[test]
fn conflicting_options() {
    has(json!({"netconf": {"name": "m", "kubeconfig": "/k", "always_use_default": true}}), "always_use_default", "needs delegates");
    let a = answer(json!({"netconf": {"name": "m", "clusterNetwork": "c", "delegates": [{"type": "b"}], "globalNamespaces": "x"}}));
    let w: Vec<&str> = a["warnings"].as_array().unwrap().iter().map(|w| w["path"].as_str().unwrap()).collect();
    assert!(w.contains(&"delegates") && w.contains(&"globalNamespaces"), "{:?}", w);
}

#[test]
fn plugin_types_are_bare_names() {
    has(nc(json!([{"type": "../../sbin/reboot"}])), "delegates[0].type", "is a path");
    has(nc(json!([{"type": "/opt/x"}])), "delegates[0].type", "is a path");
    has(nc(json!([{"type": "a\\b"}])), "delegates[0].type", "is a path");
    has(nc(json!([{"type": "ptp", "ipam": {"type": "../host-local"}}])), "delegates[0].ipam.type", "is a path");
    has(
        nc(json!([{"name": "l", "plugins": [{"type": "ptp"}, {"type": "a b"}]}])),
        "delegates[0].plugins[1].type",
        "not a valid plugin name",
    );
    has(nc(json!([{"name": "l", "plugins": []}])), "delegates[0].plugins", "non-empty");
    has(nc(json!([{"name": "x"}])), "delegates[0].type", "is required");
}

#[test]
fn names_and_versions() {
    has(json!({"attachments": [{"path": "ns/a", "config": {"type": "bridge"}}]}), "ns/a.name", "is required");
    has(nc(json!([{"type": "b", "cniVersion": "2.0.0"}])), "delegates[0].cniVersion", "not a supported CNI version");
    let a = answer(nc(json!([{"type": "b"}])));
    assert!(a["warnings"].as_array().unwrap().iter().any(|w| w["path"] == "delegates[0].name"));
}

#[test]
fn interface_names() {
    let att = |n: &str| json!({"attachments": [{"path": "ns/a", "ifname": n, "config": {"name": "a", "type": "b"}}]});
    has(att("a-very-long-interface"), "ns/a.interface", "longer than 15 bytes");
    has(att("a/b"), "ns/a.interface", "contains");
    has(att("a b"), "ns/a.interface", "contains");
    has(att(".."), "ns/a.interface", "not a valid interface name");
    has(att(""), "ns/a.interface", "is empty");
    has(
        json!({"attachments": [
            {"path": "ns/a", "ifname": "net1", "config": {"name": "a", "type": "b"}},
            {"path": "ns/b", "ifname": "net1", "config": {"name": "b", "type": "b"}}]}),
        "ns/b.interface",
        "also used by ns/a.interface",
    );
    has(nc(json!([{"type": "a", "ifnameRequest": "x"}, {"type": "b", "ifnameRequest": "x"}])), "delegates[1].ifnameRequest", "also used");
}

#[test]
fn host_local_ranges() {
    has(nc(json!([hl("10.1.0.0/33", json!({}))])), "delegates[0].ipam.subnet", "not a valid CIDR");
    has(nc(json!([hl("fd00::/129", json!({}))])), "delegates[0].ipam.subnet", "not a valid CIDR");
    valid(nc(json!([hl("fd00::/64", json!({"rangeStart": "fd00::10", "gateway": "fd00::1"}))])));
    has(
        nc(json!([hl("10.1.0.0/24", json!({"rangeStart": "10.9.0.5"}))])),
        "delegates[0].ipam.rangeStart",
        "10.9.0.5 is outside subnet 10.1.0.0/24",
    );
    has(nc(json!([hl("10.1.0.0/24", json!({"rangeEnd": "10.1.1.5"}))])), "delegates[0].ipam.rangeEnd", "outside subnet");
    has(
        nc(json!([hl("10.1.0.0/24", json!({"rangeStart": "10.1.0.50", "rangeEnd": "10.1.0.40"}))])),
        "delegates[0].ipam.rangeStart",
        "is after rangeEnd",
    );
    has(nc(json!([hl("10.1.0.0/24", json!({"rangeStart": "fd00::1"}))])), "delegates[0].ipam.rangeStart", "same IP family");
    // host-local takes any gateway address as written: a questionable one is a warning.
    warns(nc(json!([hl("10.1.0.0/24", json!({"gateway": "10.1.0.0"}))])), "delegates[0].ipam.gateway", "network address");
    warns(nc(json!([hl("10.1.0.0/24", json!({"gateway": "10.1.0.255"}))])), "delegates[0].ipam.gateway", "broadcast address");
    warns(nc(json!([hl("10.1.0.0/24", json!({"gateway": "10.2.0.1"}))])), "delegates[0].ipam.gateway", "outside subnet");
    has(nc(json!([hl("10.1.0.0/24", json!({"gateway": "x"}))])), "delegates[0].ipam.gateway", "not a valid IP");
}

#[test]
fn range_sets() {
    let ipam = |ranges: Value| nc(json!([{"name": "n", "type": "bridge", "ipam": {"type": "host-local", "ranges": ranges}}]));
    valid(ipam(json!([[{"subnet": "10.1.0.0/24"}], [{"subnet": "fd00::/64"}]])));
    has(
        ipam(json!([[{"subnet": "10.1.0.0/24", "rangeStart": "10.3.0.1"}]])),
        "delegates[0].ipam.ranges[0][0].rangeStart",
        "outside subnet",
    );
    has(ipam(json!([[]])), "delegates[0].ipam.ranges[0]", "non-empty list");
    has(ipam(json!({})), "delegates[0].ipam.ranges", "non-empty list of range sets");
    has(ipam(json!([["x"]])), "delegates[0].ipam.ranges[0][0]", "range object");
    has(ipam(json!([[{"rangeStart": "10.1.0.1"}]])), "delegates[0].ipam.ranges[0][0].subnet", "is required");
}

#[test]
fn routes() {
    let ipam = |routes: Value| {
        nc(json!([{"name": "n", "type": "bridge", "ipam": {"type": "host-local", "subnet": "10.1.0.0/24", "routes": routes}}]))
    };
    valid(ipam(json!([{"dst": "0.0.0.0/0"}, {"dst": "10.9.0.0/16", "gw": "10.1.0.1"}])));
    has(ipam(json!([{"dst": "10.9.0.0/33"}])), "delegates[0].ipam.routes[0].dst", "not a valid CIDR");
    has(ipam(json!([{"dst": "10.9.0.0/16", "gw": "nope"}])), "delegates[0].ipam.routes[0].gw", "not a valid IP");
    has(ipam(json!([{"gw": "10.1.0.1"}])), "delegates[0].ipam.routes[0].dst", "is required");
    warns(ipam(json!([{"dst": "::/0", "gw": "10.1.0.1"}])), "delegates[0].ipam.routes[0].gw", "same IP family");
}

#[test]
fn static_and_whereabouts() {
    let st = |addrs: Value| nc(json!([{"name": "n", "type": "macvlan", "ipam": {"type": "static", "addresses": addrs}}]));
    valid(st(json!([{"address": "10.5.0.2/24", "gateway": "10.5.0.1"}])));
    has(st(json!([{"address": "10.5.0.2"}])), "delegates[0].ipam.addresses[0].address", "not a valid CIDR");
    warns(st(json!([{"address": "10.5.0.2/24", "gateway": "10.6.0.1"}])), "delegates[0].ipam.addresses[0].gateway", "outside subnet");
    let wa = |ipam: Value| nc(json!([{"name": "n", "type": "macvlan", "ipam": ipam}]));
    valid(wa(json!({"type": "whereabouts", "range": "10.7.0.0/24", "range_start": "10.7.0.10", "exclude": ["10.7.0.0/28"]})));
    // Whereabouts does not check the start and end against the range.
    warns(
        wa(json!({"type": "whereabouts", "range": "10.7.0.0/24", "range_end": "10.8.0.1"})),
        "delegates[0].ipam.range_end",
        "outside subnet",
    );
    has(wa(json!({"type": "whereabouts", "range": "10.7.0.0/24", "exclude": ["x"]})), "delegates[0].ipam.exclude[0]", "not a valid CIDR");
}

#[test]
fn overlapping_subnets_across_attachments_are_warnings() {
    let att = |name: &str, subnet: &str| json!({"path": format!("ns/{}", name), "config": {"name": name, "type": "bridge", "ipam": {"type": "host-local", "subnet": subnet}}});
    warns(
        json!({"attachments": [att("a", "10.1.0.0/16"), att("b", "10.1.5.0/24")]}),
        "ns/b.ipam.subnet",
        "10.1.5.0/24 overlaps 10.1.0.0/16 at ns/a.ipam.subnet",
    );
    assert_eq!(
        answer(json!({"attachments": [att("a", "10.1.0.0/24"), att("b", "10.2.0.0/24")]})),
        json!({"type": "valid", "warnings": []})
    );
    // The same network twice (one NAD listed twice) is not an overlap.
    assert_eq!(
        answer(
            json!({"attachments": [att("a", "10.1.0.0/24"), {"path": "ns/a#2", "config": {"name": "a", "type": "bridge", "ipam": {"type": "host-local", "subnet": "10.1.0.0/24"}}}]})
        ),
        json!({"type": "valid", "warnings": []})
    );
}

#[test]
fn one_subnet_split_by_ranges_is_no_overlap() {
    let att = |name: &str, start: &str, end: &str| {
        json!({"path": format!("ns/{}", name), "config": {"name": name, "type": "macvlan",
        "ipam": {"type": "host-local", "subnet": "10.4.0.0/24", "rangeStart": start, "rangeEnd": end}}})
    };
    let split = json!({"attachments": [att("a", "10.4.0.10", "10.4.0.99"), att("b", "10.4.0.100", "10.4.0.199")]});
    assert_eq!(answer(split), json!({"type": "valid", "warnings": []}));
    warns(
        json!({"attachments": [att("a", "10.4.0.10", "10.4.0.100"), att("b", "10.4.0.100", "10.4.0.199")]}),
        "ns/b.ipam.subnet",
        "10.4.0.100-10.4.0.199 of 10.4.0.0/24 overlaps 10.4.0.10-10.4.0.100 of 10.4.0.0/24 at ns/a.ipam.subnet",
    );
    // Whereabouts' pools too, from range_start/range_end or first-CIDR.
    let wa = |name: &str, ipam: Value| json!({"path": format!("ns/{}", name), "config": {"name": name, "type": "macvlan", "ipam": ipam}});
    let w = json!({"attachments": [
        wa("a", json!({"type": "whereabouts", "range": "10.5.0.0/24", "range_end": "10.5.0.99"})),
        wa("b", json!({"type": "whereabouts", "range": "10.5.0.100-10.5.0.200/24"}))]});
    assert_eq!(answer(w), json!({"type": "valid", "warnings": []}));
}
#[test]
fn every_problem_at_once_and_never_a_panic() {
    let e = errors(nc(json!([hl("10.1.0.0/33", json!({})), {"type": "../x"}, {"type": "ok", "cniVersion": 3}])));
    assert!(e.len() >= 3, "{:?}", e);
    for input in
        ["", "{", "[]", "null", "1", "\"x\"", "{\"netconf\": 5}", "{\"attachments\": {}}", "{\"attachments\": [1, {\"config\": []}]}"]
    {
        let out: Value = serde_json::from_str(&validate_str(input)).unwrap();
        assert_eq!(out["type"], "invalid", "{}", input);
    }
}

#[test]
fn netconf_fields_pass_with_the_right_types() {
    valid(json!({"netconf": {"name": "m", "type": "multus", "cniVersion": "1.1.0", "cniVersions": ["1.0.0"], "delegates": [{"type": "b"}],
        "kubeconfig": "/k", "cniDir": "/c", "confDir": "/d", "binDir": "/b", "defaultNetworks": ["x"], "multusNamespace": "kube-system",
        "systemNamespaces": ["kube-system"], "namespaceIsolation": true, "globalNamespaces": "a,b", "readinessindicatorfile": "/r",
        "logFile": "/l", "logLevel": "verbose", "logToStderr": false, "logOptions": {"maxSize": 10, "compress": false}, "always_use_default": true, "retryDeleteOnError": true,
        "capabilities": {"ips": true}, "runtimeConfig": {}, "delegateTimeout": 0.5, "prevResult": {}}}));
    has(
        json!({"netconf": {"name": "m", "delegates": [{"type": "b"}], "cniVersions": "1.0.0"}}),
        "cniVersions",
        "must be a list of strings",
    );
    has(json!({"netconf": {"name": "m", "delegates": [{"type": "b"}], "runtimeConfig": []}}), "runtimeConfig", "must be an object");
    has(json!({"netconf": {"name": "m", "delegates": [{"type": "b"}], "logOptions": 100}}), "logOptions", "must be an object");
    has(json!({"netconf": {"name": "m", "delegates": [{"type": "b"}], "delegateTimeout": "5"}}), "delegateTimeout", "number of seconds");
}

#[test]
fn device_plugin_fields_are_paths() {
    valid(json!({"netconf": {"name": "m", "kubeconfig": "/k", "podResourcesSocket": "/var/lib/kubelet/pod-resources/kubelet.sock",
        "kubeletCheckpoint": "/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint", "deviceInfoDir": "/var/run/k8s.cni.cncf.io/devinfo"}}));
    for key in ["podResourcesSocket", "kubeletCheckpoint", "deviceInfoDir"] {
        let mut netconf = json!({"name": "m", "kubeconfig": "/k"});
        netconf[key] = json!(["/not", "a string"]);
        has(json!({ "netconf": netconf }), key, "must be a string");
        netconf[key] = json!("/p");
        let a = answer(json!({ "netconf": netconf }));
        assert_eq!(a, json!({"type": "valid", "warnings": []}), "{} is a known field", key);
    }
}

#[test]
fn one_error_per_path_for_mistyped_name_and_delegates() {
    let e = errors(json!({"netconf": {"name": 5, "delegates": {}}}));
    assert_eq!(e, vec![("delegates".into(), "must be a list".into()), ("name".into(), "must be a string".into())]);
    has(json!({"netconf": {"name": "", "kubeconfig": "/k"}}), "name", "is required");
}

#[test]
fn every_extra_masterplugin_is_reported() {
    let e = errors(nc(
        json!([{"type": "a", "masterplugin": true}, {"type": "b", "masterplugin": false}, {"type": "c", "masterplugin": true}, {"type": "d", "masterplugin": true}]),
    ));
    let paths: Vec<&str> = e.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, vec!["delegates[2]", "delegates[3]"]);
    valid(nc(json!([{"type": "a", "masterplugin": true}, {"type": "b", "masterplugin": false}])));
}

#[test]
fn dot_types_and_conflist_shape() {
    has(nc(json!([{"type": "."}])), "delegates[0].type", "not a valid plugin name");
    has(nc(json!([{"type": ".."}])), "delegates[0].type", "is a path");
    has(nc(json!([{"type": "-x"}])), "delegates[0].type", "not a valid plugin name");
    has(nc(json!([{"type": 3}])), "delegates[0].type", "must be a string");
    has(nc(json!([{"name": "l", "plugins": [5]}])), "delegates[0].plugins[0]", "must be an object");
    has(nc(json!([{"name": "l", "plugins": {}}])), "delegates[0].plugins", "non-empty list");
    has(nc(json!([5])), "delegates[0]", "must be a JSON object");
    valid(nc(
        json!([{"name": "l", "cniVersion": "0.4.0", "plugins": [{"type": "macvlan", "ipam": {"type": "dhcp"}}, {"type": "tuning"}]}]),
    ));
    valid(nc(json!([{"type": "my_plugin-1.2"}])));
}

#[test]
fn interface_colon_and_request_shapes() {
    let att = |n: &str| json!({"attachments": [{"path": "ns/a", "ifname": n, "config": {"name": "a", "type": "b"}}]});
    has(att("net:1"), "ns/a.interface", "contains");
    has(att("."), "ns/a.interface", "not a valid interface name");
    valid(att("abcdefghijklmno"));
    has(nc(json!([{"type": "a", "ifnameRequest": 1}])), "delegates[0].ifnameRequest", "must be a string");
    has(nc(json!([{"type": "a", "ifnameRequest": "a b"}])), "delegates[0].ifnameRequest", "contains");
    // Attachments and delegates share one namespace of interface names.
    has(
        json!({"netconf": {"name": "m", "delegates": [{"type": "a", "ifnameRequest": "net1"}]},
               "attachments": [{"path": "ns/x", "ifname": "net1", "config": {"name": "x", "type": "b"}}]}),
        "ns/x.interface",
        "also used by delegates[0].ifnameRequest",
    );
}

#[test]
fn top_level_addresses_without_a_subnet_are_still_addresses() {
    has(
        nc(json!([{"type": "bridge", "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.0.0.0/24"}]], "rangeStart": "10.0.0.x"}}])),
        "delegates[0].ipam.rangeStart",
        "not a valid IP address",
    );
    valid(nc(
        json!([{"name": "n", "type": "bridge", "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.0.0.0/24"}]], "gateway": "10.0.0.1"}}]),
    ));
}

#[test]
fn small_prefixes_allow_any_gateway() {
    valid(nc(json!([hl("10.1.0.0/31", json!({"gateway": "10.1.0.1"}))])));
    valid(nc(json!([hl("fd00::/64", json!({"gateway": "fd00::ffff:ffff:ffff:ffff"}))])));
    warns(nc(json!([hl("fd00::/64", json!({"gateway": "fd00::"}))])), "delegates[0].ipam.gateway", "network address");
}

#[test]
fn whereabouts_ip_ranges_and_exclude() {
    let wa = |ipam: Value| nc(json!([{"name": "n", "type": "macvlan", "ipam": ipam}]));
    valid(wa(json!({"type": "whereabouts", "ipRanges": [{"range": "10.7.0.0/24", "range_start": "10.7.0.5"}, {"range": "fd07::/64"}]})));
    warns(
        wa(json!({"type": "whereabouts", "ipRanges": [{"range": "10.7.0.0/24", "range_end": "10.6.0.1"}]})),
        "delegates[0].ipam.ipRanges[0].range_end",
        "outside subnet",
    );
    has(
        wa(json!({"type": "whereabouts", "ipRanges": [{"range_start": "10.6.0.1"}]})),
        "delegates[0].ipam.ipRanges[0].range",
        "is required",
    );
    has(wa(json!({"type": "whereabouts", "ipRanges": {}})), "delegates[0].ipam.ipRanges", "must be a list");
    has(
        wa(json!({"type": "whereabouts", "range": "10.7.0.0/24", "exclude": "10.7.0.0/28"})),
        "delegates[0].ipam.exclude",
        "must be a list of CIDRs",
    );
    has(
        wa(json!({"type": "whereabouts", "range": "10.7.0.0/24", "exclude": [7]})),
        "delegates[0].ipam.exclude[0]",
        "must be a CIDR string",
    );
    warns(
        wa(json!({"type": "whereabouts", "range": "10.7.0.0/24", "range_start": "fd00::1"})),
        "delegates[0].ipam.range_start",
        "same IP family",
    );
    has(wa(json!({"type": "whereabouts", "range": "10.7.0/24"})), "delegates[0].ipam.range", "not a valid CIDR");
    // first-CIDR: the first address must be an address, inside the subnet.
    valid(wa(json!({"type": "whereabouts", "range": "192.168.2.225-192.168.2.230/28"})));
    has(wa(json!({"type": "whereabouts", "range": "x-192.168.2.230/28"})), "delegates[0].ipam.range", "x is not a valid IP address");
    has(wa(json!({"type": "whereabouts", "range": "192.168.3.1-192.168.2.230/28"})), "delegates[0].ipam.range", "outside subnet");
    has(wa(json!({"type": "whereabouts", "gateway": "gw"})), "delegates[0].ipam.gateway", "not a valid IP address");
    // No range at all: it may come from whereabouts' flat file on the node.
    valid(wa(json!({"type": "whereabouts"})));
}

#[test]
fn static_gateway_and_routes_shapes() {
    let st = |addrs: Value| nc(json!([{"name": "n", "type": "macvlan", "ipam": {"type": "static", "addresses": addrs}}]));
    has(st(json!([{"address": "10.5.0.2/24", "gateway": "10.5.0"}])), "delegates[0].ipam.addresses[0].gateway", "not a valid IP address");
    warns(st(json!([{"address": "10.5.0.2/24", "gateway": "fd00::1"}])), "delegates[0].ipam.addresses[0].gateway", "same IP family");
    has(st(json!([{"gateway": "10.5.0.1"}])), "delegates[0].ipam.addresses[0].address", "is required");
    has(st(json!({})), "delegates[0].ipam.addresses", "must be a list");
    valid(st(json!([{"address": "fd00::2/64", "gateway": "fd00::1"}])));
    let rt = |routes: Value| nc(json!([{"name": "n", "type": "bridge", "ipam": {"type": "static", "routes": routes}}]));
    has(rt(json!({})), "delegates[0].ipam.routes", "must be a list");
    has(rt(json!([1])), "delegates[0].ipam.routes[0]", "must be an object");
    has(nc(json!([{"type": "b", "ipam": 5}])), "delegates[0].ipam", "must be an object");
}

#[test]
fn overlaps_by_attachment_not_by_name() {
    let att = |path: &str, name: &str, subnet: &str| json!({"path": path, "config": {"name": name, "type": "bridge", "ipam": {"type": "host-local", "subnet": subnet}}});
    // One name, two different pools (two namespaces' NADs): still an overlap.
    warns(
        json!({"attachments": [att("ns1/a", "a", "10.1.0.0/16"), att("ns2/a", "a", "10.1.0.0/24")]}),
        "ns2/a.ipam.subnet",
        "overlaps 10.1.0.0/16 at ns1/a.ipam.subnet",
    );
    // The plugins of one conflist are one attachment.
    assert_eq!(
        answer(json!({"attachments": [{"path": "ns/l", "config": {"name": "l", "plugins": [
            {"type": "bridge", "ipam": {"type": "host-local", "subnet": "10.1.0.0/24"}},
            {"type": "ptp", "ipam": {"type": "host-local", "subnet": "10.1.0.0/24"}}]}}]})),
        json!({"type": "valid", "warnings": []})
    );
    // A netconf delegate and an attachment.
    warns(
        json!({"netconf": {"name": "m", "delegates": [hl("fd00::/48", json!({}))]}, "attachments": [att("ns/v6", "v6", "fd00:0:0:1::/64")]}),
        "ns/v6.ipam.subnet",
        "fd00:0:0:1::/64 overlaps fd00::/48 at delegates[0].ipam.subnet (network \"n\")",
    );
    // Different families never overlap.
    assert_eq!(
        answer(json!({"attachments": [att("ns/a", "a", "0.0.0.0/0"), att("ns/b", "b", "::/0")]})),
        json!({"type": "valid", "warnings": []})
    );
}

#[test]
fn host_local_refuses_ranges_that_share_addresses() {
    let ipam = |ranges: Value| nc(json!([{"name": "n", "type": "bridge", "ipam": {"type": "host-local", "ranges": ranges}}]));
    has(
        ipam(json!([[{"subnet": "10.1.0.0/24"}], [{"subnet": "10.1.0.0/25"}]])),
        "delegates[0].ipam.ranges[1][0]",
        "10.1.0.1-10.1.0.126 overlaps 10.1.0.1-10.1.0.254 of ranges[0][0]: host-local refuses ranges that share addresses",
    );
    has(ipam(json!([[{"subnet": "fd00::/64"}, {"subnet": "fd00::/120"}]])), "delegates[0].ipam.ranges[0][1]", "of ranges[0][0]");
    valid(ipam(json!([[{"subnet": "10.1.0.0/24", "rangeEnd": "10.1.0.99"}, {"subnet": "10.1.0.0/24", "rangeStart": "10.1.0.100"}]])));
    has(
        nc(
            json!([{"name": "n", "type": "bridge", "ipam": {"type": "host-local", "subnet": "10.2.0.0/24", "ranges": [[{"subnet": "10.2.0.0/24"}]]}}]),
        ),
        "delegates[0].ipam.ranges[0][0]",
        "overlaps",
    );
    has(
        nc(json!([{"name": "n", "type": "bridge", "ipam": {"type": "host-local"}}])),
        "delegates[0].ipam",
        "host-local needs \"subnet\" or \"ranges\"",
    );
}

#[test]
fn ipam_rules_only_where_the_ipam_block_is_handed_on_as_written() {
    // Calico and Canal rewrite "usePodCidr" before they call host-local; Antrea fills in the range.
    for (plugin, ipam) in [
        ("calico", json!({"type": "host-local", "subnet": "usePodCidr"})),
        ("calico", json!({"type": "host-local", "ranges": [[{"subnet": "usePodCidr"}], [{"subnet": "usePodCidrIPv6"}]]})),
        ("antrea", json!({"type": "host-local"})),
        ("sriov", json!({"type": "whereabouts", "range": "not yet"})),
    ] {
        assert_eq!(
            answer(nc(json!([{"name": "n", "type": plugin, "ipam": ipam}]))),
            json!({"type": "valid", "warnings": []}),
            "{}",
            plugin
        );
    }
    for plugin in ["bridge", "dummy", "host-device", "ipvlan", "macvlan", "ptp", "tap", "vlan"] {
        has(
            nc(json!([{"name": "n", "type": plugin, "ipam": {"type": "host-local", "subnet": "usePodCidr"}}])),
            "delegates[0].ipam.subnet",
            "not a valid CIDR",
        );
    }
    // Whatever the plugin: the IPAM type is a bare name, and the block an object.
    has(nc(json!([{"type": "calico", "ipam": {"type": "../x"}}])), "delegates[0].ipam.type", "is a path");
    has(nc(json!([{"type": "calico", "ipam": []}])), "delegates[0].ipam", "must be an object");
    // Other IPAM types are theirs to check.
    valid(nc(json!([{"name": "n", "type": "macvlan", "ipam": {"type": "dhcp", "subnet": "anything"}}])));
}

#[test]
fn multus_is_never_a_delegate() {
    for t in crate::delegate::MULTUS_TYPES {
        has(nc(json!([{"name": "x", "type": t}])), "delegates[0].type", "is a Multus: a Multus cannot be a delegate");
        has(nc(json!([{"name": "x", "plugins": [{"type": "tuning"}, {"type": t}]}])), "delegates[0].plugins[1].type", "is a Multus");
        has(json!({"attachments": [{"path": "ns/m", "config": {"name": "m", "type": t}}]}), "ns/m.type", "is a Multus");
    }
    valid(nc(json!([{"name": "x", "type": "multus-cni"}])));
}

#[test]
fn loopback_and_nul_are_no_interface_names() {
    has(nc(json!([{"type": "a", "ifnameRequest": "lo"}])), "delegates[0].ifnameRequest", "loopback");
    has(nc(json!([{"type": "a", "ifnameRequest": "ne\u{0}t"}])), "delegates[0].ifnameRequest", "contains a NUL byte");
    has(json!({"attachments": [{"path": "ns/a", "ifname": "lo", "config": {"name": "a", "type": "b"}}]}), "ns/a.interface", "loopback");
    valid(nc(json!([{"type": "a", "ifnameRequest": "lo0"}, {"type": "b", "ifnameRequest": "low"}])));
}

#[test]
fn durations_are_bounded_and_paths_absolute() {
    for key in ["delegateTimeout", "addTimeout", "readinessTimeout", "apiTimeout", "apiDeadline"] {
        for bad in [json!(0), json!(-1), json!(3600.01), json!(1e10), json!(2147484), json!("5"), json!(null)] {
            let mut n = json!({"name": "m", "kubeconfig": "/k"});
            n[key] = bad.clone();
            has(json!({ "netconf": n }), key, "must be a number of seconds greater than 0 and at most 3600");
        }
        for ok in [json!(0.001), json!(1), json!(3600)] {
            let mut n = json!({"name": "m", "kubeconfig": "/k"});
            n[key] = ok;
            valid(json!({ "netconf": n }));
        }
    }
    for key in [
        "cniDir",
        "logFile",
        "binDir",
        "kubeconfig",
        "readinessindicatorfile",
        "confDir",
        "podResourcesSocket",
        "kubeletCheckpoint",
        "deviceInfoDir",
    ] {
        for bad in ["relative", "./x", "../etc/x", "x/y"] {
            let mut n = json!({"name": "m", "kubeconfig": "/k"});
            n[key] = json!(bad);
            has(json!({ "netconf": n }), key, &format!("\"{}\" must be an absolute path", bad));
        }
        let mut n = json!({"name": "m", "kubeconfig": "/k"});
        n[key] = json!("");
        if key != "kubeconfig" {
            valid(json!({ "netconf": n }));
        }
    }
}
#[test]
fn input_shapes() {
    has(json!({"attachments": [{"path": "ns/a"}]}), "ns/a", "has no config");
    has(json!({"attachments": [5]}), "attachments[0]", "must be an object");
    has(json!({"attachments": [{"config": {"type": "b"}}]}), "attachments[0].name", "is required");
    has(
        json!({"attachments": [{"path": "ns/a", "ifname": 1, "config": {"name": "a", "type": "b"}}]}),
        "ns/a.interface",
        "must be a string",
    );
    has(json!({"netconf": []}), "", "the netconf must be a JSON object");
    valid(json!({}));
    let bad = validate_str("{\"netconf\": ");
    assert!(bad.starts_with(r#"{"type":"invalid","errors":[{"path":"","message":"input is not valid JSON: "#), "{}", bad);
    // Nesting deeper than the parser allows is an answer, not a crash; and not "invalid JSON".
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(
        validate_str(&deep),
        r#"{"type":"invalid","errors":[{"path":"","message":"input is nested too deeply (more than 128 levels of lists and objects)"}],"warnings":[]}"#
    );
}

#[test]
fn raw_abi_round_trip() {
    use crate::{alloc, answer_len, answer_ptr, dealloc, validate};
    for input in [&b"{\"netconf\": {\"name\": \"m\", \"kubeconfig\": \"/k\"}}"[..], b"\xff\xfe", b""] {
        unsafe {
            let p = alloc(input.len());
            assert!(!p.is_null());
            std::ptr::copy_nonoverlapping(input.as_ptr(), p, input.len());
            let n = validate(p, input.len());
            assert_eq!(n, answer_len());
            let out = std::str::from_utf8(std::slice::from_raw_parts(answer_ptr(), n)).unwrap().to_string();
            dealloc(p, input.len());
            let v: Value = serde_json::from_str(&out).unwrap();
            assert!(v["type"] == "valid" || v["type"] == "invalid", "{}", out);
        }
    }
    unsafe {
        assert!(validate(std::ptr::null(), 0) > 0);
        dealloc(std::ptr::null_mut(), 3);
    }
    assert!(alloc(usize::MAX).is_null());
}

#[test]
fn point_to_point_prefixes_have_no_network_address() {
    valid(nc(json!([hl("10.1.0.0/32", json!({"gateway": "10.1.0.0"}))])));
    valid(nc(json!([hl("fd00::/127", json!({"gateway": "fd00::"}))])));
    warns(nc(json!([hl("10.1.0.0/30", json!({"gateway": "10.1.0.3"}))])), "delegates[0].ipam.gateway", "broadcast address");
}

#[test]
fn each_overlapping_subnet_is_reported_once() {
    let d = |name: &str| {
        hl("10.0.0.0/8", json!({}))
            .as_object()
            .map(|o| {
                let mut o = o.clone();
                o.insert("name".into(), json!(name));
                Value::Object(o)
            })
            .unwrap()
    };
    let a = answer(nc(json!([d("a"), d("b"), d("c")])));
    let w: Vec<&Value> = a["warnings"].as_array().unwrap().iter().filter(|w| w["message"].as_str().unwrap().contains("overlaps")).collect();
    assert_eq!(w.len(), 2, "{}", a);
    assert_eq!(
        *w[1],
        json!({"path": "delegates[2].ipam.subnet", "message": "10.0.0.0/8 overlaps 10.0.0.0/8 at delegates[0].ipam.subnet (network \"a\")"})
    );
    let e =
        errors(nc(json!([{"type": "a", "ifnameRequest": "x"}, {"type": "b", "ifnameRequest": "x"}, {"type": "c", "ifnameRequest": "x"}])));
    assert_eq!(e.iter().filter(|(_, m)| m.contains("also used by delegates[0].ifnameRequest")).count(), 2, "{:?}", e);
}

#[test]
fn pod_events_and_install_marker_are_known_fields() {
    let a = answer(json!({"netconf": {"name": "m", "kubeconfig": "/k", "podEvents": false,
        "multusInstall": {"version": "0.1.0", "delegatesTo": "/etc/cni/net.d/10-flannel.conflist"}}}));
    assert_eq!(a["type"], "valid", "{}", a);
    assert_eq!(a["warnings"], json!([]), "no unknown-field warning: {}", a);
    has(json!({"netconf": {"name": "m", "kubeconfig": "/k", "podEvents": "no"}}), "podEvents", "must be true or false");
    has(json!({"netconf": {"name": "m", "kubeconfig": "/k", "multusInstall": "yes"}}), "multusInstall", "must be an object");
}
