// undici's HTTP/1 client and its request() helper, imported on their own (see client.ts).
declare module "undici/lib/dispatcher/client.js" {
  import { Client } from "undici";
  export default Client;
}
declare module "undici/lib/api/api-request.js" {
  import type { Dispatcher } from "undici";
  export default function request(this: Dispatcher, opts: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData>;
}
declare module "undici/lib/core/connect.js" {
  import type { buildConnector as build } from "undici";
  export default function buildConnector(options: build.BuildOptions): build.connector;
}
