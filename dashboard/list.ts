/**
 * A paged table over an EMQX list endpoint (`page`, `limit` → `{data, meta}`), with previous and
 * next buttons and an error line. Used by every list page.
 *
 * @module
 */

import type { Page } from "./api.ts";
import { type Column, h, replace, table } from "./dom.ts";

/** What a list view shows and how it loads a page. */
export interface ListOptions<T> {
  load: (page: number, limit: number) => Promise<Page<T>>;
  columns: Column<T>[];
  empty?: string;
  limit?: number;
}

/** A list view: its element and a reload (back to page 1 when `first`). */
export interface ListView {
  el: HTMLElement;
  reload: (first?: boolean) => Promise<void>;
}

/** A message box for a failed request. */
export function errorLine(e: unknown): HTMLElement {
  return h("p", { class: "error", role: "alert" }, e instanceof Error ? e.message : String(e));
}

/** Builds a paged table; call reload() to fill it. */
export function listView<T>(opts: ListOptions<T>): ListView {
  const limit = opts.limit ?? 20;
  let page = 1;
  const body = h("div", { class: "list-body" });
  const info = h("span", { class: "pager-info" });
  const prev = h("button", { type: "button", class: "secondary" }, "Previous");
  const next = h("button", { type: "button", class: "secondary" }, "Next");
  const el = h("div", { class: "list" }, body, h("div", { class: "pager" }, prev, info, next));

  // Only the newest load may draw: an older answer arriving late must not replace a newer one.
  let newest = 0;
  async function reload(first = false): Promise<void> {
    if (first) page = 1;
    const mine = ++newest;
    el.setAttribute("aria-busy", "true");
    try {
      const result = await opts.load(page, limit);
      if (mine !== newest) return;
      const rows = Array.isArray(result) ? result as T[] : result.data;
      replace(body, table(opts.columns, rows, opts.empty));
      const meta = Array.isArray(result) ? {} : result.meta;
      const count = meta.count !== undefined ? ` · ${meta.count} in all` : "";
      info.textContent = `Page ${page}${count}`;
      prev.disabled = page <= 1;
      next.disabled = !(meta.hasnext ?? false);
    } catch (e) {
      if (mine === newest) replace(body, errorLine(e));
    } finally {
      if (mine === newest) el.setAttribute("aria-busy", "false");
    }
  }
  prev.addEventListener("click", () => {
    page = Math.max(1, page - 1);
    reload();
  });
  next.addEventListener("click", () => {
    page += 1;
    reload();
  });
  return { el, reload };
}
