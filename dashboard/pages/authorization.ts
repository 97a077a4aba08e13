/**
 * Authorization: settings (GET /authorization/settings), sources in order (GET
 * /authorization/sources), and the built-in database's rules per user, per client and for all
 * (…/sources/built_in_database/rules/{users|clients|all}), edited as JSON rule lists.
 *
 * @module
 */

import { call, type Page, seg } from "../api.ts";
import { confirmButton, field, h, kvTable, replace, show, table } from "../dom.ts";
import { errorLine } from "../list.ts";

interface Source {
  type: string;
  enable?: boolean;
  [key: string]: unknown;
}

interface Rule {
  topic: string;
  permission: string;
  action: string;
  qos?: number[];
  retain?: string | boolean;
}

const RULES = "/authorization/sources/built_in_database/rules";
const EXAMPLE = '[{"topic": "t/#", "permission": "allow", "action": "all"}]';

async function rulesSection(): Promise<HTMLElement> {
  const box = h("div", { id: "authz-rules" });
  async function load(): Promise<void> {
    const [users, clients, all] = await Promise.all([
      call<Page<{ username: string; rules: Rule[] }>>("GET", `${RULES}/users`, {
        query: { limit: 1000 },
      }),
      call<Page<{ clientid: string; rules: Rule[] }>>("GET", `${RULES}/clients`, {
        query: { limit: 1000 },
      }),
      call<{ rules: Rule[] }>("GET", `${RULES}/all`),
    ]);
    const rows: { kind: "users" | "clients" | "all"; who: string; rules: Rule[] }[] = [
      ...users.data.map((u) => ({ kind: "users" as const, who: u.username, rules: u.rules })),
      ...clients.data.map((c) => ({ kind: "clients" as const, who: c.clientid, rules: c.rules })),
      ...(all.rules.length > 0 ? [{ kind: "all" as const, who: "", rules: all.rules }] : []),
    ];
    replace(
      box,
      table(
        [
          {
            title: "For",
            cell: (
              r,
            ) => (r.kind === "all" ? "all" : `${r.kind === "users" ? "user" : "client"} ${r.who}`),
          },
          { title: "Rules", cell: (r) => h("pre", null, JSON.stringify(r.rules, null, 1)) },
          {
            title: "",
            cell: (r) =>
              confirmButton("Delete", async () => {
                await call(
                  "DELETE",
                  r.kind === "all" ? `${RULES}/all` : `${RULES}/${r.kind}/${seg(r.who)}`,
                );
                await load();
              }),
          },
        ],
        rows,
        "No built-in rules.",
      ),
    );
  }
  const kind = h(
    "select",
    { name: "kind" },
    ["users", "clients", "all"].map((k) => h("option", { value: k }, k)),
  );
  const who = h("input", { name: "who", placeholder: "username or client ID" });
  const rules = h("textarea", { name: "rules", rows: 4, cols: 60, value: EXAMPLE });
  const message = h("span", { class: "error", role: "alert" });
  const form = h(
    "form",
    { class: "toolbar" },
    field("For", kind),
    field("Who", who),
    field("Rules (JSON)", rules),
    h("button", { type: "submit" }, "Save rules"),
    message,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    message.textContent = "";
    try {
      const parsed = JSON.parse(rules.value) as Rule[];
      if (kind.value === "all") {
        await call("POST", `${RULES}/all`, { body: { rules: parsed } });
      } else {
        const key = kind.value === "users" ? "username" : "clientid";
        // PUT replaces an existing entry; POST (a list) creates one.
        await call("PUT", `${RULES}/${kind.value}/${seg(who.value)}`, {
          body: { [key]: who.value, rules: parsed },
        }).catch(() =>
          call("POST", `${RULES}/${kind.value}`, { body: [{ [key]: who.value, rules: parsed }] })
        );
      }
      await load();
    } catch (e) {
      message.textContent = e instanceof Error ? e.message : String(e);
    }
  });
  await load().catch((e) => replace(box, errorLine(e)));
  return h("section", { class: "card" }, h("h3", null, "Built-in database rules"), box, form);
}

/** Renders the authorization settings, sources and built-in rules. */
export async function renderAuthorization(main: HTMLElement): Promise<void> {
  replace(main, h("h2", null, "Authorization"));
  try {
    const [settings, sources] = await Promise.all([
      // Settings are shown when the API has them; the sources matter more.
      call<Record<string, unknown>>("GET", "/authorization/settings").catch(() => null),
      call<{ sources: Source[] } | Source[]>("GET", "/authorization/sources"),
    ]);
    const list = Array.isArray(sources) ? sources : sources.sources;
    // Culex's GET /authorization/sources carries the settings beside the sources.
    const { sources: _s, ...besides } = Array.isArray(sources) ? { sources } : sources;
    const shownSettings = settings ?? (Object.keys(besides).length > 0 ? besides : null);
    main.append(
      ...(shownSettings ? [h("h3", null, "Settings"), kvTable(shownSettings)] : []),
      h("h3", null, "Sources, in order"),
      table(
        [
          { title: "#", cell: (s) => list.indexOf(s) + 1 },
          { title: "Type", cell: (s) => s.type },
          { title: "Enabled", cell: (s) => show(s.enable ?? true) },
          {
            title: "Settings",
            cell: (s) => {
              const { type: _t, enable: _e, ...rest } = s;
              return h("pre", null, JSON.stringify(rest, null, 1));
            },
          },
        ],
        list,
        "No sources: the no_match setting decides.",
      ),
    );
    if (list.some((s) => s.type === "built_in_database")) main.append(await rulesSection());
  } catch (e) {
    main.append(errorLine(e));
  }
}
