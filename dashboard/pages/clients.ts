/**
 * Clients: a searchable, paged list (GET /clients with `like_clientid`), a client's details and
 * subscriptions (GET /clients/{id}, /clients/{id}/subscriptions), subscribe and unsubscribe on its
 * behalf, and kick (DELETE /clients/{id}).
 *
 * @module
 */

import { call, type Page, seg } from "../api.ts";
import { confirmButton, field, h, kvTable, replace, show, table, time } from "../dom.ts";
import { errorLine, type ListView, listView } from "../list.ts";

/** The fields of an EMQX client object the list shows. */
interface Client {
  clientid: string;
  username?: string | null;
  ip_address?: string;
  port?: number;
  proto_name?: string;
  proto_ver?: number;
  connected?: boolean;
  connected_at?: string | null;
  keepalive?: number;
  subscriptions_cnt?: number;
}

interface Subscription {
  topic: string;
  qos: number;
  nl?: number;
  rap?: number;
  rh?: number;
}

function kick(id: string, after: () => Promise<void>): HTMLButtonElement {
  return confirmButton("Kick", async () => {
    await call("DELETE", `/clients/${seg(id)}`);
    await after();
  });
}

/** Renders the client list. */
export function renderClients(main: HTMLElement): void {
  const search = h("input", {
    type: "search",
    id: "client-search",
    placeholder: "Client ID contains…",
  });
  const error = h("div");
  const list: ListView = listView<Client>({
    load: (page, limit) =>
      call<Page<Client>>("GET", "/clients", {
        query: { page, limit, like_clientid: search.value.trim() },
      }),
    empty: "No clients.",
    columns: [
      {
        title: "Client ID",
        cell: (c) =>
          h("a", { href: `#/clients/${seg(c.clientid)}`, class: "client-link" }, c.clientid),
      },
      { title: "Username", cell: (c) => show(c.username) },
      { title: "Address", cell: (c) => `${c.ip_address ?? ""}:${c.port ?? ""}` },
      { title: "Protocol", cell: (c) => `${c.proto_name ?? ""} ${c.proto_ver ?? ""}` },
      { title: "Connected", cell: (c) => (c.connected ? "yes" : "no") },
      { title: "Connected at", cell: (c) => time(c.connected_at) },
      { title: "Subscriptions", cell: (c) => show(c.subscriptions_cnt) },
      { title: "", cell: (c) => kick(c.clientid, () => list.reload()) },
    ],
  });
  const form = h(
    "form",
    { class: "toolbar" },
    search,
    h("button", { type: "submit" }, "Search"),
    h("button", { type: "button", class: "secondary", onclick: () => list.reload() }, "Refresh"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void list.reload(true);
  });
  replace(main, h("h2", null, "Clients"), form, error, list.el);
  void list.reload(true);
}

/** Renders one client's details and subscriptions. */
export async function renderClient(main: HTMLElement, id: string): Promise<void> {
  const subs = h("div", { id: "client-subscriptions" });
  const back = h("a", { href: "#/clients" }, "← Clients");
  let client: Record<string, unknown>;
  try {
    client = await call<Record<string, unknown>>("GET", `/clients/${seg(id)}`);
  } catch (e) {
    replace(main, back, h("h2", null, id), errorLine(e));
    return;
  }
  async function loadSubs(): Promise<void> {
    try {
      const list = await call<Subscription[]>("GET", `/clients/${seg(id)}/subscriptions`);
      replace(
        subs,
        table(
          [
            { title: "Topic", cell: (s) => s.topic },
            { title: "QoS", cell: (s) => s.qos },
            { title: "No local", cell: (s) => show(s.nl) },
            { title: "Retain as published", cell: (s) => show(s.rap) },
            { title: "Retain handling", cell: (s) => show(s.rh) },
            {
              title: "",
              cell: (s) =>
                confirmButton("Unsubscribe", async () => {
                  await call("POST", `/clients/${seg(id)}/unsubscribe`, {
                    body: { topic: s.topic },
                  });
                  await loadSubs();
                }),
            },
          ],
          list,
          "No subscriptions.",
        ),
      );
    } catch (e) {
      replace(subs, errorLine(e));
    }
  }
  const topic = h("input", { name: "topic", placeholder: "topic/filter/#", required: true });
  const qos = h(
    "select",
    { name: "qos" },
    [0, 1, 2].map((q) => h("option", { value: q }, `QoS ${q}`)),
  );
  const subMessage = h("span", { class: "error" });
  const subscribe = h(
    "form",
    { class: "toolbar" },
    field("Subscribe to", topic),
    qos,
    h("button", { type: "submit" }, "Subscribe"),
    subMessage,
  );
  subscribe.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    subMessage.textContent = "";
    try {
      await call("POST", `/clients/${seg(id)}/subscribe`, {
        body: { topic: topic.value, qos: Number(qos.value) },
      });
      await loadSubs();
    } catch (e) {
      subMessage.textContent = e instanceof Error ? e.message : String(e);
    }
  });
  replace(
    main,
    back,
    h("h2", null, `Client ${id}`),
    h(
      "div",
      { class: "toolbar" },
      kick(id, () => {
        location.hash = "#/clients";
        return Promise.resolve();
      }),
    ),
    h("h3", null, "Subscriptions"),
    subs,
    subscribe,
    h("h3", null, "Details"),
    kvTable(client),
  );
  await loadSubs();
}
