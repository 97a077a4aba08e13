/**
 * Subscriptions, topics and retained messages: `GET /subscriptions` (EMQX's filters, paged),
 * `GET /topics`, `GET /topics/{topic}`, and EMQX's `/mqtt/retainer/messages` and
 * `/mqtt/retainer/message/{topic}` (GET, DELETE; the topic URL-encoded). Answers from the shards
 * through BrokerControl.
 *
 * @module
 */

import { z } from "zod";
import { matches } from "../mqtt/mod.ts";
import type { BrokerControl, Json } from "../supervisor/broker_control.ts";
import type { RetainerConfig } from "../config/types.ts";
import { ApiError, json, noContent } from "./_http.ts";
import { paging, qBool, qInt } from "./_schemas.ts";
import { type Route, route } from "./router.ts";
import type { NodesLister } from "./routes_cluster.ts";

const subsQuery = z.object({
  ...paging,
  node: z.string().optional(),
  clientid: z.string().optional(),
  qos: qInt(0, 2).optional(),
  topic: z.string().optional(),
  match_topic: z.string().optional(),
  share_group: z.string().optional(),
  durable: qBool().optional(),
});
type SubsQuery = z.output<typeof subsQuery>;
const topicsQuery = z.object({
  ...paging,
  topic: z.string().optional(),
  node: z.string().optional(),
});
type TopicsQuery = z.output<typeof topicsQuery>;
const retainedQuery = z.object({ ...paging, topic: z.string().optional() });
type RetainedQuery = z.output<typeof retainedQuery>;

function pageArgs(q: { page?: number | undefined; limit?: number | undefined }) {
  return {
    ...(q.page === undefined ? {} : { page: q.page }),
    ...(q.limit === undefined ? {} : { limit: q.limit }),
  };
}

/** The routes; see the file header. */
export function subscriptionRoutes(
  control: BrokerControl,
  nodeName: string,
  retainer: RetainerConfig,
  /** listSubscriptions: GET /subscriptions over several nodes; absent: this node's. */
  opts: { listSubscriptions?: NodesLister } = {},
): Route[] {
  // Every node's rows (EMQX asks every node), or this node's; `node` keeps one node.
  const list: NodesLister = opts.listSubscriptions ?? (async (q) => {
    if (q.node !== undefined && q.node !== nodeName) {
      return { data: [], meta: { page: q.page, limit: q.limit, count: 0, hasnext: false } };
    }
    return await control.listSubscriptions({ page: q.page, limit: q.limit, filter: q.filter });
  });
  return [
    route<SubsQuery>({
      method: "GET",
      path: "/subscriptions",
      tag: "Subscriptions",
      summary: "Every client's subscriptions, filtered and paged",
      query: subsQuery,
      responses: { 200: "{data: [subscription], meta}", 400: "BAD_REQUEST" },
      async handle({ query }) {
        const { page, limit, node, match_topic, durable: _d, ...filter } = query;
        const where = { filter: filter as Json, ...(node === undefined ? {} : { node }) };
        if (match_topic === undefined) {
          const r = await list({ page: page ?? 1, limit: limit ?? 100, ...where });
          return json({ data: r.data.map((s) => ({ ...s, durable: false })), meta: r.meta });
        }
        // match_topic: the filters a topic name would match; the shards have no such filter,
        // so every matching row is gathered (bounded by the largest page) and paged here.
        const all = await list({ page: 1, limit: 10_000, ...where });
        const rows = all.data.filter((s) => matches(String(s.topic), match_topic));
        const p = page ?? 1;
        const l = limit ?? 100;
        return json({
          data: rows.slice((p - 1) * l, p * l).map((s) => ({ ...s, durable: false })),
          meta: { page: p, limit: l, count: rows.length, hasnext: p * l < rows.length },
        });
      },
    }),
    route<TopicsQuery>({
      method: "GET",
      path: "/topics",
      tag: "Topics",
      summary: "The route table: topic filters with at least one subscriber",
      query: topicsQuery,
      responses: { 200: "{data: [{topic, node}], meta}" },
      async handle({ query }) {
        // Every node's routes, each with its node (EMQX's replicated route table).
        const r = await control.listTopics({
          ...pageArgs(query),
          self: nodeName,
          ...(query.topic === undefined ? {} : { topic: query.topic }),
          ...(query.node === undefined ? {} : { node: query.node }),
        });
        return json({ data: r.data, meta: r.meta });
      },
    }),
    route({
      method: "GET",
      path: "/topics/{topic*}",
      tag: "Topics",
      summary: "One route (the topic URL-encoded)",
      responses: { 200: "[{topic, node}]", 404: "TOPIC_NOT_FOUND" },
      async handle({ params }) {
        const topic = params.topic ?? "";
        const r = await control.listTopics({ topic, limit: 1000, self: nodeName });
        if (r.data.length === 0) throw new ApiError(404, "TOPIC_NOT_FOUND", "Topic not found");
        return json(r.data);
      },
    }),
    route({
      method: "GET",
      path: "/mqtt/retainer",
      tag: "Retainer",
      summary: "The retainer's configuration (EMQX's names)",
      responses: { 200: "{enable, max_payload_size, backend}" },
      handle() {
        const r = retainer;
        return json({
          enable: r.enable,
          max_payload_size: r.maxPayloadSize,
          backend: {
            type: "built_in_database",
            storage_type: r.storageType,
            max_retained_messages: r.maxRetainedMessages,
            index_specs: r.indexSpecs,
          },
        });
      },
    }),
    route<RetainedQuery>({
      method: "GET",
      path: "/mqtt/retainer/messages",
      tag: "Retainer",
      summary: "Retained messages (without payloads), paged",
      query: retainedQuery,
      responses: { 200: "{data: [message], meta}" },
      async handle({ query }) {
        const r = await control.listRetained({
          ...pageArgs(query),
          ...(query.topic === undefined ? {} : { topic: query.topic }),
        });
        return json({ data: r.data.map(retainedJson), meta: r.meta });
      },
    }),
    route({
      method: "GET",
      path: "/mqtt/retainer/message/{topic*}",
      tag: "Retainer",
      summary: "One retained message with its payload (base64); the topic URL-encoded",
      responses: { 200: "message", 404: "NOT_FOUND" },
      async handle({ params }) {
        const m = await control.getRetained(params.topic ?? "");
        if (!m) throw new ApiError(404, "NOT_FOUND", "Viewed message doesn't exist");
        return json(retainedJson(m));
      },
    }),
    route({
      method: "DELETE",
      path: "/mqtt/retainer/message/{topic*}",
      tag: "Retainer",
      summary: "Delete one retained message",
      responses: { 204: "deleted", 404: "NOT_FOUND" },
      async handle({ params }) {
        if (!await control.deleteRetained(params.topic ?? "")) {
          throw new ApiError(404, "NOT_FOUND", "Viewed message doesn't exist");
        }
        return noContent();
      },
    }),
  ];
}

/** EMQX's retained message fields (msgid, from_username are not tracked: empty). */
function retainedJson(m: Json): Json {
  return { msgid: "", from_username: "", ...m };
}
