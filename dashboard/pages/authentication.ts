/**
 * Authentication: the configured chain (GET /authentication) in order, and for a built-in
 * database authenticator its users (GET/POST /authentication/{id}/users, PUT and DELETE
 * /authentication/{id}/users/{user_id}).
 *
 * @module
 */

import { call, type Page, seg } from "../api.ts";
import { confirmButton, field, h, replace, show, table } from "../dom.ts";
import { errorLine, type ListView, listView } from "../list.ts";

interface Authenticator {
  id?: string;
  mechanism?: string;
  backend?: string;
  enable?: boolean;
  [key: string]: unknown;
}

interface User {
  user_id: string;
  is_superuser?: boolean;
}

function idOf(a: Authenticator): string {
  return a.id ?? (a.backend ? `${a.mechanism}:${a.backend}` : String(a.mechanism));
}

function usersSection(id: string): HTMLElement {
  const list: ListView = listView<User>({
    load: (page, limit) =>
      call<Page<User>>("GET", `/authentication/${seg(id)}/users`, { query: { page, limit } }),
    empty: "No users.",
    columns: [
      { title: "User", cell: (u) => u.user_id },
      { title: "Superuser", cell: (u) => (u.is_superuser ? "yes" : "no") },
      {
        title: "",
        cell: (u) => {
          const pwd = h("input", { type: "password", placeholder: "new password", class: "small" });
          const done = h("span", { role: "status" });
          const set = h("button", {
            type: "button",
            class: "secondary",
            onclick: async () => {
              try {
                await call("PUT", `/authentication/${seg(id)}/users/${seg(u.user_id)}`, {
                  body: { password: pwd.value, is_superuser: u.is_superuser ?? false },
                });
                pwd.value = "";
                done.className = "ok";
                done.textContent = "Saved.";
              } catch (e) {
                done.className = "error";
                done.textContent = e instanceof Error ? e.message : String(e);
              }
            },
          }, "Set password");
          const del = confirmButton("Delete", async () => {
            await call("DELETE", `/authentication/${seg(id)}/users/${seg(u.user_id)}`);
            await list.reload();
          });
          return [pwd, set, del, done];
        },
      },
    ],
  });
  const userId = h("input", { name: "user_id", required: true });
  const password = h("input", { name: "password", type: "password", required: true });
  const superuser = h("input", { name: "is_superuser", type: "checkbox" });
  const message = h("span", { class: "error", role: "alert" });
  const form = h(
    "form",
    { class: "toolbar" },
    field("User", userId),
    field("Password", password),
    field("Superuser", superuser),
    h("button", { type: "submit" }, "Add user"),
    message,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    message.textContent = "";
    try {
      await call("POST", `/authentication/${seg(id)}/users`, {
        body: { user_id: userId.value, password: password.value, is_superuser: superuser.checked },
      });
      userId.value = "";
      password.value = "";
      await list.reload(true);
    } catch (e) {
      message.textContent = e instanceof Error ? e.message : String(e);
    }
  });
  void list.reload(true);
  return h("div", { class: "users" }, h("h4", null, "Users"), form, list.el);
}

/** Renders the authentication chain. */
export async function renderAuthentication(main: HTMLElement): Promise<void> {
  replace(
    main,
    h("h2", null, "Authentication"),
    h(
      "p",
      { class: "hint" },
      "Authenticators are tried in this order; with none, every client may connect.",
    ),
  );
  try {
    const chain = await call<Authenticator[]>("GET", "/authentication");
    main.append(table(
      [
        { title: "#", cell: (a) => chain.indexOf(a) + 1 },
        { title: "ID", cell: (a) => idOf(a) },
        { title: "Mechanism", cell: (a) => show(a.mechanism) },
        { title: "Backend", cell: (a) => show(a.backend) },
        { title: "Enabled", cell: (a) => show(a.enable ?? true) },
      ],
      chain,
      "No authenticators: anonymous access.",
    ));
    for (const a of chain) {
      const { id: _id, mechanism: _m, backend: _b, enable: _e, ...settings } = a;
      main.append(
        h(
          "section",
          { class: "card" },
          h("h3", null, idOf(a)),
          h("pre", null, JSON.stringify(settings, null, 2)),
          a.backend === "built_in_database" ? usersSection(idOf(a)) : null,
        ),
      );
    }
  } catch (e) {
    main.append(errorLine(e));
  }
}
