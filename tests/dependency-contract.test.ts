// The plugin loads a few modules of its dependencies by their file paths, not
// their public entry points, to keep start-up lean (the full undici and
// client-node cost tens of milliseconds per ADD). Those paths are private, so
// the versions are pinned exactly in package.json, and this test states the
// contract: an upgrade that moves or changes them fails here, not on a node.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { ROOT } from "./helpers/run-plugin.ts";

const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));

t.test("the versions whose private modules we load are pinned exactly", async (t) => {
  for (const [name, version] of [
    ["undici", "7.30.2"],
    ["@kubernetes/client-node", "1.4.0"],
  ]) {
    t.equal(pkg.dependencies[name], version, `${name} is pinned, not a range`);
    const installed = JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")).version;
    t.equal(installed, version, `${name} installed is the pinned one`);
  }
});

t.test("undici: the HTTP/1 client and request() on their own", async (t) => {
  const { default: Client } = await import("undici/lib/dispatcher/client.js");
  const { default: request } = await import("undici/lib/api/api-request.js");
  t.type(Client, "function", "Client is a constructor");
  t.type(request, "function", "request is a function");
  const c = new Client("http://127.0.0.1:9", { connect: { timeout: 100 } });
  t.type(c.close, "function", "a client can be closed");
  await c.close();
});

t.test("client-node: kubeconfig parsing and exec auth on their own", async (t) => {
  const types = await import("@kubernetes/client-node/dist/config_types.js");
  for (const f of ["newClusters", "newContexts", "newUsers"] as const) t.type(types[f], "function", f);
  const clusters = types.newClusters([{ name: "c", cluster: { server: "https://10.0.0.1:6443", "certificate-authority-data": "Zm9v" } }]);
  t.equal(clusters[0].server, "https://10.0.0.1:6443");
  t.equal(clusters[0].caData, "Zm9v", "*-data fields keep their names in the parsed shape");
  const users = types.newUsers([
    { name: "u", user: { token: "t", exec: { command: "x", apiVersion: "client.authentication.k8s.io/v1" } } },
  ]);
  t.equal(users[0].token, "t");
  t.ok(users[0].exec, "exec config is kept");
  const { ExecAuth } = await import("@kubernetes/client-node/dist/exec_auth.js");
  t.type(new ExecAuth().isAuthProvider, "function", "ExecAuth answers isAuthProvider");
  const { KubeConfig } = await import("@kubernetes/client-node/dist/config.js");
  t.type(new KubeConfig().loadFromString, "function", "the full KubeConfig for auth providers");
});
