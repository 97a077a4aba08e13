/// <reference lib="dom" />
/**
 * The Culex dashboard, a single-page app served by the broker (src/dashboard/serve.ts) and built
 * by tools/build_dashboard.ts. Owns the page layout and the hash router (`#/clients/abc`): each
 * route renders into the main section and may return a cleanup (the overview stops its timer).
 * Until the default password is changed, every route leads to the change form.
 *
 * @module
 */

import { currentUser, logout, mustChangePassword } from "./api.ts";
import { h, replace } from "./dom.ts";
import { errorLine } from "./list.ts";
import { renderChangePassword, renderLogin } from "./pages/login.ts";
import { renderOverview } from "./pages/overview.ts";
import { renderClient, renderClients } from "./pages/clients.ts";
import { renderSubscriptions, renderTopics } from "./pages/subscriptions.ts";
import { renderRetained } from "./pages/retained.ts";
import { renderBanned } from "./pages/banned.ts";
import { renderListeners } from "./pages/listeners.ts";
import { renderAuthentication } from "./pages/authentication.ts";
import { renderAuthorization } from "./pages/authorization.ts";
import { renderMetrics } from "./pages/metrics.ts";
import { renderPublish } from "./pages/publish.ts";
import { renderConfiguration } from "./pages/configuration.ts";
import { renderApiKeys } from "./pages/api_keys.ts";
import { renderAdmins } from "./pages/admins.ts";

/** What a page render may return: a function that stops its timers. */
export type Cleanup = (() => void) | void;
type Render = (main: HTMLElement, arg: string) => Promise<Cleanup> | Cleanup;

/** The pages in the menu, in order: route, title, render. */
const PAGES: [string, string, Render][] = [
  ["overview", "Overview", renderOverview],
  ["clients", "Clients", renderClients],
  ["subscriptions", "Subscriptions", renderSubscriptions],
  ["topics", "Topics", renderTopics],
  ["retained", "Retained", renderRetained],
  ["banned", "Banned", renderBanned],
  ["listeners", "Listeners", renderListeners],
  ["authentication", "Authentication", renderAuthentication],
  ["authorization", "Authorization", renderAuthorization],
  ["metrics", "Metrics", renderMetrics],
  ["publish", "Publish", renderPublish],
  ["configuration", "Configuration", renderConfiguration],
  ["api-key", "API keys", renderApiKeys],
  ["users", "Users", renderAdmins],
];

const app = document.getElementById("app") as HTMLElement;
let cleanup: Cleanup;

function layout(active: string): HTMLElement {
  const main = h("main", { id: "main" });
  const nav = h(
    "nav",
    null,
    h("div", { class: "brand" }, "Culex"),
    PAGES.map(([route, title]) =>
      h(
        "a",
        { href: `#/${route}`, class: route === active ? "active" : "", id: `nav-${route}` },
        title,
      )
    ),
  );
  const user = h(
    "header",
    null,
    h("span", { class: "user" }, currentUser() ?? ""),
    h("a", { href: "#/change-password" }, "Change password"),
    h("button", {
      type: "button",
      class: "secondary",
      id: "logout",
      onclick: async () => {
        await logout();
        location.hash = "#/login";
      },
    }, "Log out"),
  );
  replace(app, h("div", { class: "shell" }, nav, h("div", { class: "content" }, user, main)));
  return main;
}

/** Renders the page of the current hash; redirects replace the history entry (no hashchange). */
async function route(): Promise<void> {
  if (typeof cleanup === "function") cleanup();
  cleanup = undefined;
  const [name = "", ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const arg = decodeURIComponent(rest.join("/"));
  if (currentUser() === null) {
    if (name !== "login") history.replaceState(null, "", "#/login");
    const box = h("div", { class: "center" });
    replace(app, box);
    return renderLogin(box);
  }
  if (mustChangePassword() || name === "change-password") {
    if (name !== "change-password") history.replaceState(null, "", "#/change-password");
    const box = h("div", { class: "center" });
    replace(app, box);
    return renderChangePassword(box);
  }
  const client = name === "clients" && arg !== "";
  const page = PAGES.find(([r]) => r === name);
  if (!page) {
    history.replaceState(null, "", "#/overview");
    return route();
  }
  const main = layout(name);
  try {
    cleanup = client ? await renderClient(main, arg) : await page[2](main, arg);
  } catch (e) {
    main.append(errorLine(e));
  }
}

addEventListener("hashchange", () => void route());
void route();
