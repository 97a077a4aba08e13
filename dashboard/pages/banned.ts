/**
 * Banned clients: list (GET /banned), add (POST /banned {as, who, reason, until}) and remove
 * (DELETE /banned/{as}/{who}).
 *
 * @module
 */

import { call, type Page, seg } from "../api.ts";
import { confirmButton, field, h, replace, show, time } from "../dom.ts";
import { type ListView, listView } from "../list.ts";

interface Ban {
  as: string;
  who: string;
  by?: string;
  reason?: string;
  at?: string;
  until?: string;
}

const KINDS = ["clientid", "username", "peerhost", "clientid_re", "username_re", "peerhost_net"];

/** Renders the ban list and the form to add one. */
export function renderBanned(main: HTMLElement): void {
  const list: ListView = listView<Ban>({
    load: (page, limit) => call<Page<Ban>>("GET", "/banned", { query: { page, limit } }),
    empty: "Nobody is banned.",
    columns: [
      { title: "As", cell: (b) => b.as },
      { title: "Who", cell: (b) => b.who },
      { title: "Reason", cell: (b) => show(b.reason) },
      { title: "By", cell: (b) => show(b.by) },
      { title: "At", cell: (b) => time(b.at) },
      { title: "Until", cell: (b) => time(b.until) },
      {
        title: "",
        cell: (b) =>
          confirmButton("Remove", async () => {
            await call("DELETE", `/banned/${seg(b.as)}/${seg(b.who)}`);
            await list.reload();
          }),
      },
    ],
  });
  const as = h("select", { name: "as" }, KINDS.map((k) => h("option", { value: k }, k)));
  const who = h("input", {
    name: "who",
    required: true,
    placeholder: "client ID, user, IP or CIDR",
  });
  const reason = h("input", { name: "reason", placeholder: "optional" });
  const until = h("input", { name: "until", type: "datetime-local" });
  const message = h("span", { class: "error", role: "alert" });
  const form = h(
    "form",
    { class: "toolbar", id: "ban-form" },
    field("Ban by", as),
    field("Who", who),
    field("Reason", reason),
    field("Until (empty: for ever)", until),
    h("button", { type: "submit" }, "Ban"),
    message,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    message.textContent = "";
    const body: Record<string, string> = {
      as: as.value,
      who: who.value.trim(),
      reason: reason.value,
    };
    if (until.value) body.until = new Date(until.value).toISOString();
    try {
      await call("POST", "/banned", { body });
      who.value = "";
      reason.value = "";
      await list.reload(true);
    } catch (e) {
      message.textContent = e instanceof Error ? e.message : String(e);
    }
  });
  replace(main, h("h2", null, "Banned"), form, list.el);
  void list.reload(true);
}
