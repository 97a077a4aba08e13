/**
 * Retained messages: the list (GET /mqtt/retainer/messages), one message with its payload (GET
 * /mqtt/retainer/message/{topic}, base64) and delete (DELETE the same path).
 *
 * @module
 */

import { call, type Page, seg } from "../api.ts";
import { confirmButton, field, h, kvTable, replace, show, time } from "../dom.ts";
import { errorLine, type ListView, listView } from "../list.ts";

interface Retained {
  topic: string;
  qos: number;
  msgid?: string;
  publish_at?: string;
  from_clientid?: string | null;
  from_username?: string | null;
  payload?: string;
}

/** A base64 payload as UTF-8 text when it is valid text, else as hex. */
function payloadText(b64: string): string {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ") + " (hex)";
  }
}

/** Renders the retained messages. */
export function renderRetained(main: HTMLElement): void {
  const topic = h("input", { name: "topic", placeholder: "topic or filter" });
  const detail = h("div", { id: "retained-detail" });
  async function view(t: string): Promise<void> {
    try {
      const m = await call<Retained>("GET", `/mqtt/retainer/message/${seg(t)}`);
      const { payload, ...rest } = m;
      replace(
        detail,
        h("h3", null, `Retained on ${t}`),
        kvTable(rest),
        h("h4", null, "Payload"),
        h("pre", { class: "card payload" }, payload === undefined ? "" : payloadText(payload)),
      );
    } catch (e) {
      replace(detail, errorLine(e));
    }
  }
  const list: ListView = listView<Retained>({
    load: (page, limit) =>
      call<Page<Retained>>("GET", "/mqtt/retainer/messages", {
        query: { page, limit, topic: topic.value.trim() },
      }),
    empty: "No retained messages.",
    columns: [
      { title: "Topic", cell: (m) => m.topic },
      { title: "QoS", cell: (m) => m.qos },
      { title: "From client", cell: (m) => show(m.from_clientid) },
      { title: "Published at", cell: (m) => time(m.publish_at) },
      {
        title: "",
        cell: (m) => [
          h("button", { type: "button", class: "secondary", onclick: () => view(m.topic) }, "View"),
          confirmButton("Delete", async () => {
            await call("DELETE", `/mqtt/retainer/message/${seg(m.topic)}`);
            replace(detail);
            await list.reload();
          }),
        ],
      },
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
  replace(main, h("h2", null, "Retained messages"), form, list.el, detail);
  void list.reload(true);
}
