/**
 * Network configs as cluster networks and users write them into a node's
 * conf dir, for the install and watch tests. Their plugins need not exist:
 * these files are only read, merged and written, never executed.
 */
export const flannel = {
  cniVersion: "0.4.0",
  name: "cbr0",
  plugins: [
    { type: "flannel", delegate: { isDefaultGateway: true } },
    { type: "portmap", capabilities: { portMappings: true } },
  ],
};

export const calico = {
  cniVersion: "1.0.0",
  name: "k8s-pod-network",
  plugins: [
    { type: "calico", ipam: { type: "calico-ipam" } },
    { type: "bandwidth", capabilities: { bandwidth: true } },
    { type: "portmap", capabilities: { portMappings: true } },
  ],
};

/** A secondary network a user appends to `delegates`. */
export const storage = {
  cniVersion: "0.4.0",
  name: "storage",
  type: "macvlan",
  master: "eth1",
  ipam: { type: "host-local", subnet: "10.20.0.0/24" },
};
