/**
 * API keys (EMQX's `/api-key` page): list (GET /api_key), create (POST /api_key, the secret
 * shown once in a box that says so), enable or disable (PUT /api_key/{name} {enable}) and
 * delete (DELETE /api_key/{name}).
 *
 * @module
 */

import { call, seg } from "../api.ts";
import { confirmButton, field, h, replace, show, time } from "../dom.ts";
import { type ListView, listView } from "../list.ts";

interface ApiKey {
  name: string;
  api_key: string;
  desc?: string;
  role?: string;
  enable: boolean;
  expired?: boolean;
  created_at?: string;
  expired_at?: string;
}

interface Created extends ApiKey {
  api_secret: string;
}

/** Renders the key list, the form to create one and, after creating, its secret. */
export function renderApiKeys(main: HTMLElement): void {
  const list: ListView = listView<ApiKey>({
    load: () => call<ApiKey[]>("GET", "/api_key").then((keys) => ({ data: keys, meta: {} })),
    empty: "No API keys.",
    columns: [
      { title: "Name", cell: (k) => k.name },
      { title: "API key", cell: (k) => h("code", null, k.api_key) },
      { title: "Role", cell: (k) => show(k.role) },
      { title: "Description", cell: (k) => show(k.desc) },
      { title: "Created", cell: (k) => time(k.created_at) },
      { title: "Expires", cell: (k) => time(k.expired_at) },
      {
        title: "Enabled",
        cell: (k) => {
          const box = h("input", {
            type: "checkbox",
            class: "key-enable",
            "aria-label": `Enable ${k.name}`,
            checked: k.enable,
          });
          box.addEventListener("change", async () => {
            box.disabled = true;
            try {
              await call("PUT", `/api_key/${seg(k.name)}`, { body: { enable: box.checked } });
            } catch {
              box.checked = !box.checked;
            } finally {
              box.disabled = false;
              await list.reload();
            }
          });
          return box;
        },
      },
      {
        title: "",
        cell: (k) =>
          confirmButton("Delete", async () => {
            await call("DELETE", `/api_key/${seg(k.name)}`);
            await list.reload();
          }),
      },
    ],
  });
  const name = h("input", { name: "name", required: true, placeholder: "letters, digits, _ -" });
  const desc = h("input", { name: "desc", placeholder: "optional" });
  const role = h(
    "select",
    { name: "role" },
    h("option", { value: "administrator" }, "administrator"),
    h("option", { value: "viewer" }, "viewer (GET only)"),
  );
  const expires = h("input", { name: "expired_at", type: "datetime-local" });
  const message = h("span", { class: "error", role: "alert" });
  const secretBox = h("div", { id: "api-key-secret" });
  const form = h(
    "form",
    { class: "toolbar", id: "api-key-form" },
    field("Name", name),
    field("Description", desc),
    field("Role", role),
    field("Expires (empty: never)", expires),
    h("button", { type: "submit" }, "Create"),
    message,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    message.textContent = "";
    replace(secretBox);
    const body: Record<string, unknown> = { name: name.value.trim(), role: role.value };
    if (desc.value) body.desc = desc.value;
    if (expires.value) body.expired_at = new Date(expires.value).toISOString();
    try {
      const k = await call<Created>("POST", "/api_key", { body });
      // The only time the secret is ever shown: the broker keeps a digest of it.
      replace(
        secretBox,
        h("p", { class: "notice" }, "Copy the secret now: it is not shown again."),
        h(
          "table",
          { class: "kv" },
          h(
            "tbody",
            null,
            h("tr", null, h("th", null, "API key"), h("td", { id: "new-api-key" }, k.api_key)),
            h(
              "tr",
              null,
              h("th", null, "Secret"),
              h("td", { id: "new-api-secret" }, h("code", null, k.api_secret)),
            ),
          ),
        ),
      );
      name.value = "";
      desc.value = "";
      await list.reload(true);
    } catch (e) {
      message.textContent = e instanceof Error ? e.message : String(e);
    }
  });
  replace(main, h("h2", null, "API keys"), form, secretBox, list.el);
  void list.reload(true);
}
