/**
 * Metrics and stats: every counter of GET /metrics and gauge of GET /stats (summed over nodes),
 * filtered by name.
 *
 * @module
 */

import { call } from "../api.ts";
import { h, replace, table } from "../dom.ts";
import { errorLine } from "../list.ts";

type Row = [string, unknown];

function rowsOf(body: unknown): Row[] {
  const nodes = Array.isArray(body) ? body : [body];
  const sum = new Map<string, unknown>();
  for (const node of nodes) {
    for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
      const before = sum.get(k);
      sum.set(k, typeof v === "number" && typeof before === "number" ? before + v : v);
    }
  }
  return [...sum].sort(([a], [b]) => a.localeCompare(b));
}

/** Renders the metric and stat tables. */
export async function renderMetrics(main: HTMLElement): Promise<void> {
  const filter = h("input", {
    type: "search",
    placeholder: "Filter by name…",
    id: "metrics-filter",
  });
  const body = h("div", { class: "two-columns" });
  replace(main, h("h2", null, "Metrics"), h("div", { class: "toolbar" }, filter), body);
  let metrics: Row[] = [];
  let stats: Row[] = [];
  function draw(): void {
    const f = filter.value.trim().toLowerCase();
    const keep = (rows: Row[]) => rows.filter(([k]) => k.toLowerCase().includes(f));
    const columns = [
      { title: "Name", cell: (r: Row) => r[0] },
      { title: "Value", cell: (r: Row) => String(r[1]) },
    ];
    replace(
      body,
      h("section", null, h("h3", null, "Metrics"), table(columns, keep(metrics))),
      h("section", null, h("h3", null, "Stats"), table(columns, keep(stats))),
    );
  }
  filter.addEventListener("input", draw);
  try {
    const [m, s] = await Promise.all([
      call<unknown>("GET", "/metrics", { query: { aggregate: true } }),
      call<unknown>("GET", "/stats", { query: { aggregate: true } }),
    ]);
    metrics = rowsOf(m);
    stats = rowsOf(s);
    draw();
  } catch (e) {
    body.append(errorLine(e));
  }
}
