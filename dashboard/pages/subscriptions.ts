/**
 * Subscriptions (GET /subscriptions, filtered by client id or topic) and topics, the route table
 * (GET /topics).
 *
 * @module
 */

import { call, type Page, seg } from "../api.ts";
import { field, h, replace, show } from "../dom.ts";
import { listView } from "../list.ts";

interface SubscriptionRow {
  clientid: string;
  topic: string;
  qos: number;
  node?: string;
  nl?: number;
  rap?: number;
  rh?: number;
}

interface TopicRow {
  topic: string;
  node?: string;
}

/** Renders all subscriptions with filters. */
export function renderSubscriptions(main: HTMLElement): void {
  const clientid = h("input", { name: "clientid", placeholder: "exact client ID" });
  const topic = h("input", { name: "topic", placeholder: "exact filter" });
  const match = h("input", { name: "match_topic", placeholder: "topic the filter matches" });
  const list = listView<SubscriptionRow>({
    load: (page, limit) =>
      call<Page<SubscriptionRow>>("GET", "/subscriptions", {
        query: {
          page,
          limit,
          clientid: clientid.value.trim(),
          topic: topic.value.trim(),
          match_topic: match.value.trim(),
        },
      }),
    empty: "No subscriptions.",
    columns: [
      {
        title: "Client ID",
        cell: (s) => h("a", { href: `#/clients/${seg(s.clientid)}` }, s.clientid),
      },
      { title: "Topic", cell: (s) => s.topic },
      { title: "QoS", cell: (s) => s.qos },
      { title: "No local", cell: (s) => show(s.nl) },
      { title: "Retain as published", cell: (s) => show(s.rap) },
      { title: "Retain handling", cell: (s) => show(s.rh) },
      { title: "Node", cell: (s) => show(s.node) },
    ],
  });
  const form = h(
    "form",
    { class: "toolbar" },
    field("Client ID", clientid),
    field("Topic", topic),
    field("Matches", match),
    h("button", { type: "submit" }, "Search"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void list.reload(true);
  });
  replace(main, h("h2", null, "Subscriptions"), form, list.el);
  void list.reload(true);
}

/** Renders the topics that have subscribers. */
export function renderTopics(main: HTMLElement): void {
  const topic = h("input", { name: "topic", placeholder: "exact topic filter" });
  const list = listView<TopicRow>({
    load: (page, limit) =>
      call<Page<TopicRow>>("GET", "/topics", { query: { page, limit, topic: topic.value.trim() } }),
    empty: "No topics.",
    columns: [
      { title: "Topic", cell: (t) => t.topic },
      { title: "Node", cell: (t) => show(t.node) },
    ],
  });
  const form = h(
    "form",
    { class: "toolbar" },
    field("Topic", topic),
    h("button", { type: "submit" }, "Search"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void list.reload(true);
  });
  replace(main, h("h2", null, "Topics"), form, list.el);
  void list.reload(true);
}
