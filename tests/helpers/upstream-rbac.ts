/**
 * The ClusterRole `multus` as upstream Multus v4.1 deploys it
 * (deployments/multus-daemonset.yml), and its ClusterRoleBinding: nodes
 * still running upstream's plugin depend on exactly these rules while a
 * cluster moves to this one, since both use the same names.
 */
import type { PolicyRule } from "./apiserver.ts";

export const UPSTREAM_ROLE_NAME = "multus";

export const UPSTREAM_RULES: readonly PolicyRule[] = [
  { apiGroups: ["k8s.cni.cncf.io"], resources: ["*"], verbs: ["*"] },
  { apiGroups: [""], resources: ["pods", "pods/status"], verbs: ["get", "update"] },
  { apiGroups: ["", "events.k8s.io"], resources: ["events"], verbs: ["create", "patch", "update"] },
];

/** Its binding: the `multus` service account of kube-system. */
export const UPSTREAM_BINDING = {
  name: "multus",
  roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "multus" },
  subjects: [{ kind: "ServiceAccount", name: "multus", namespace: "kube-system" }],
};
