/**
 * Routes of clients (EMQX `emqx_mgmt_api_clients`): `GET /clients` with EMQX's filters, `fields`
 * and paging, `GET|DELETE /clients/{clientid}`, its subscriptions, and subscribe / unsubscribe
 * on its behalf (single and bulk). Every answer comes from the shards through BrokerControl; on
 * a cluster, from the node that has the client (client_ops.ts).
 *
 * @module
 */

import { z } from "zod";
import type { BrokerControl, Json } from "../supervisor/broker_control.ts";
import { validateTopicFilter } from "../mqtt/mod.ts";
import { ApiError, badRequest, json, noContent } from "./_http.ts";
import { paging, qBool, qInt, qList, qos, qTime } from "./_schemas.ts";
import { type Route, route } from "./router.ts";
import type { ClientOps } from "./client_ops.ts";
import type { NodesLister } from "./routes_cluster.ts";

const TAG = "Clients";

const clientsQuery = z.object({
  ...paging,
  node: z.string().optional(),
  clientid: qList().optional(),
  username: qList().optional(),
  ip_address: z.string().optional(),
  conn_state: z.enum(["connected", "idle", "disconnected"]).optional(),
  clean_start: qBool().optional(),
  proto_ver: qInt(3, 5).optional(),
  like_clientid: z.string().optional(),
  like_username: z.string().optional(),
  gte_created_at: qTime().optional(),
  lte_created_at: qTime().optional(),
  gte_connected_at: qTime().optional(),
  lte_connected_at: qTime().optional(),
  fields: z.string().optional(),
});
type ClientsQuery = z.output<typeof clientsQuery>;

const subscribeBody = z.object({
  topic: z.string().min(1).max(65535),
  qos: qos.default(0),
  nl: z.union([z.literal(0), z.literal(1)]).default(0),
  rap: z.union([z.literal(0), z.literal(1)]).default(0),
  rh: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(0),
});
type SubscribeBody = z.output<typeof subscribeBody>;
const unsubscribeBody = z.object({ topic: z.string().min(1).max(65535) });

function notFound(): ApiError {
  return new ApiError(404, "CLIENTID_NOT_FOUND", "Client ID not found");
}

function checkFilter(topic: string, maxLevels: number, field: string): void {
  try {
    validateTopicFilter(topic, maxLevels);
  } catch (err) {
    throw badRequest(`${field}: ${(err as Error).message}`);
  }
}

/** Keeps only `fields` (comma list; "all" or absent = every field). */
function pick(items: Json[], fields: string | undefined): Json[] {
  if (!fields || fields === "all") return items;
  const keep = fields.split(",").map((f) => f.trim()).filter((f) => f !== "");
  return items.map((c) => Object.fromEntries(keep.filter((k) => k in c).map((k) => [k, c[k]])));
}

/** The routes; see the file header. */
export function clientRoutes(
  control: BrokerControl,
  /** listClients: GET /clients over several nodes; absent: this node's clients. */
  opts: { maxTopicLevels: number; listClients?: NodesLister; ops?: ClientOps },
): Route[] {
  // One client's operations: across the cluster when clustered (client_ops.ts).
  const ops: ClientOps = opts.ops ?? control;
  const subscribe = async (clientid: string, subs: SubscribeBody[]) => {
    subs.forEach((s, i) =>
      checkFilter(s.topic, opts.maxTopicLevels, subs.length > 1 ? `${i}.topic` : "topic")
    );
    const granted = await ops.subscribe(clientid, subs);
    if (!granted) throw notFound();
    return subs.map((s, i) => ({
      clientid,
      topic: s.topic,
      qos: granted[i] ?? s.qos,
      nl: s.nl,
      rap: s.rap,
      rh: s.rh,
    }));
  };
  return [
    route<ClientsQuery>({
      method: "GET",
      path: "/clients",
      tag: TAG,
      summary: "List clients (sessions, connected or not), filtered and paged",
      query: clientsQuery,
      responses: { 200: "{data: [client], meta}", 400: "BAD_REQUEST" },
      async handle({ query }) {
        const { page, limit, fields, node, ...filter } = query;
        const r = opts.listClients
          ? await opts.listClients({
            page: page ?? 1,
            limit: limit ?? 100,
            ...(node === undefined ? {} : { node }),
            filter: filter as Json,
          })
          : await control.listClients({
            ...(page === undefined ? {} : { page }),
            ...(limit === undefined ? {} : { limit }),
            filter: filter as Json,
          });
        return json({ data: pick(r.data, fields), meta: r.meta });
      },
    }),
    route({
      method: "GET",
      path: "/clients/{clientid}",
      tag: TAG,
      summary: "One client",
      responses: { 200: "client", 404: "CLIENTID_NOT_FOUND" },
      async handle({ params }) {
        const c = await ops.getClient(params.clientid ?? "");
        if (!c) throw notFound();
        return json(c);
      },
    }),
    route({
      method: "DELETE",
      path: "/clients/{clientid}",
      tag: TAG,
      summary: "Kick a client out and discard its session",
      responses: { 204: "kicked", 404: "CLIENTID_NOT_FOUND" },
      async handle({ params }) {
        if (!await ops.kickClient(params.clientid ?? "")) throw notFound();
        return noContent();
      },
    }),
    route({
      method: "GET",
      path: "/clients/{clientid}/subscriptions",
      tag: TAG,
      summary: "A client's subscriptions",
      responses: { 200: "[subscription]", 404: "CLIENTID_NOT_FOUND" },
      async handle({ params }) {
        const subs = await ops.clientSubscriptions(params.clientid ?? "");
        if (!subs) throw notFound();
        return json(subs);
      },
    }),
    route<undefined, SubscribeBody>({
      method: "POST",
      path: "/clients/{clientid}/subscribe",
      tag: TAG,
      summary: "Subscribe a client to a topic filter",
      body: subscribeBody,
      responses: { 200: "the subscription", 400: "BAD_REQUEST", 404: "CLIENTID_NOT_FOUND" },
      async handle({ params, body }) {
        const [one] = await subscribe(params.clientid ?? "", [body]);
        return json(one);
      },
    }),
    route<undefined, SubscribeBody[]>({
      method: "POST",
      path: "/clients/{clientid}/subscribe/bulk",
      tag: TAG,
      summary: "Subscribe a client to several topic filters",
      body: z.array(subscribeBody).min(1).max(1000),
      responses: { 200: "[subscription]", 400: "BAD_REQUEST", 404: "CLIENTID_NOT_FOUND" },
      async handle({ params, body }) {
        return json(await subscribe(params.clientid ?? "", body));
      },
    }),
    route<undefined, string[]>({
      method: "POST",
      path: "/clients/kickout/bulk",
      tag: TAG,
      summary: "Kick several clients out (unknown ids are skipped)",
      body: z.array(z.string().min(1)).min(1).max(10_000),
      responses: { 204: "kicked", 400: "BAD_REQUEST" },
      async handle({ body }) {
        // In slices: on a cluster each id may ask every other node (at most 256 requests wait
        // per link; more would fail at once).
        for (let i = 0; i < body.length; i += 100) {
          await Promise.all(body.slice(i, i + 100).map((id) => ops.kickClient(id)));
        }
        return noContent();
      },
    }),
    route<undefined, { topic: string }>({
      method: "POST",
      path: "/clients/{clientid}/unsubscribe",
      tag: TAG,
      summary: "Unsubscribe a client from a topic filter",
      body: unsubscribeBody,
      responses: { 204: "unsubscribed", 400: "BAD_REQUEST", 404: "CLIENTID_NOT_FOUND" },
      async handle({ params, body }) {
        if (!await ops.unsubscribe(params.clientid ?? "", [body.topic])) throw notFound();
        return noContent();
      },
    }),
    route<undefined, { topic: string }[]>({
      method: "POST",
      path: "/clients/{clientid}/unsubscribe/bulk",
      tag: TAG,
      summary: "Unsubscribe a client from several topic filters",
      body: z.array(unsubscribeBody).min(1).max(1000),
      responses: { 204: "unsubscribed", 400: "BAD_REQUEST", 404: "CLIENTID_NOT_FOUND" },
      async handle({ params, body }) {
        const topics = body.map((b) => b.topic);
        if (!await ops.unsubscribe(params.clientid ?? "", topics)) throw notFound();
        return noContent();
      },
    }),
  ];
}
