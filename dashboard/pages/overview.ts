/**
 * The overview: current counts and live charts of connections, messages in and out per second
 * and drops per second over the last five minutes, sampled from GET /stats and GET /metrics
 * every two seconds without reloading the page. The samples live only in this page (bounded to
 * the window); leaving the page stops the timer.
 *
 * @module
 */

import uPlot from "uplot";
import { call } from "../api.ts";
import { h, replace } from "../dom.ts";
import { errorLine } from "../list.ts";

const SAMPLE_MS = 2000;
const WINDOW_S = 300;
const MAX_SAMPLES = WINDOW_S * 1000 / SAMPLE_MS + 1;

type Counters = Record<string, number>;

/** An uptime in milliseconds (EMQX's unit) as days, hours and minutes. */
function uptime(ms: number): string {
  const m = Math.floor(ms / 60_000);
  const parts = [[Math.floor(m / 1440), "d"], [Math.floor(m / 60) % 24, "h"], [m % 60, "min"]];
  return parts.filter(([v], i) => v !== 0 || i === 2).map(([v, u]) => `${v} ${u}`).join(" ");
}

/** Sums per-node objects (GET /stats and /metrics answer a list without `aggregate=true`). */
function aggregate(body: unknown): Counters {
  const nodes = Array.isArray(body) ? body : [body];
  const sum: Counters = {};
  for (const node of nodes) {
    for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
      if (typeof v === "number") sum[k] = (sum[k] ?? 0) + v;
    }
  }
  return sum;
}

/** The series drawn, each from a stat (gauge) or a metric (counter shown as a rate). */
const CHARTS: { title: string; series: { label: string; key: string; rate: boolean }[] }[] = [
  {
    title: "Connections",
    series: [{ label: "connections", key: "connections.count", rate: false }],
  },
  {
    title: "Messages per second",
    series: [
      { label: "in", key: "messages.received", rate: true },
      { label: "out", key: "messages.sent", rate: true },
    ],
  },
  {
    title: "Dropped per second",
    series: [{ label: "dropped", key: "messages.dropped", rate: true }],
  },
];

const CARDS: [string, string][] = [
  ["Connections", "connections.count"],
  ["Subscriptions", "subscriptions.count"],
  ["Topics", "topics.count"],
  ["Retained", "retained.count"],
  ["Messages received", "messages.received"],
  ["Messages sent", "messages.sent"],
  ["Messages dropped", "messages.dropped"],
];

const COLORS = ["#2f7ed8", "#e4572e", "#76b041"];

function chartOptions(title: string, labels: string[], width: number): uPlot.Options {
  return {
    title,
    width,
    height: 200,
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
    series: [{}, ...labels.map((label, i) => ({ label, stroke: COLORS[i] ?? "#555", width: 2 }))],
    axes: [{}, { size: 60 }],
  };
}

/** Renders the overview and starts sampling; returns the function that stops it. */
export function renderOverview(main: HTMLElement): () => void {
  const cards = new Map<string, HTMLElement>();
  const cardRow = h(
    "div",
    { class: "cards" },
    CARDS.map(([title, key]) => {
      const value = h("div", { class: "value", id: `stat-${key.replaceAll(".", "-")}` }, "…");
      cards.set(key, value);
      return h("div", { class: "card stat" }, h("div", { class: "label" }, title), value);
    }),
  );
  const status = h("div", { class: "status" });
  const nodes = h("div", { class: "status", id: "nodes" });
  // The node line is a nicety: an API without GET /nodes leaves it empty.
  call<Record<string, unknown>[]>("GET", "/nodes").then((list) => {
    nodes.textContent = list.map((n) =>
      `${String(n.node)} · ${String(n.node_status ?? "")} · version ${String(n.version ?? "?")}` +
      (typeof n.uptime === "number" ? ` · up ${uptime(n.uptime)}` : "")
    ).join("  |  ");
  }, () => {});
  const chartBoxes = CHARTS.map(() => h("div", { class: "card chart" }));
  replace(
    main,
    h("h2", null, "Overview"),
    nodes,
    cardRow,
    status,
    h("div", { class: "charts" }, chartBoxes),
  );

  const times: number[] = [];
  const values: number[][] = CHARTS.flatMap((c) => c.series.map(() => []));
  const width = Math.max(300, Math.min(900, main.clientWidth - 40));
  const plots = CHARTS.map((c, i) =>
    new uPlot(
      chartOptions(c.title, c.series.map((s) => s.label), width),
      [[], ...c.series.map(() => [])],
      chartBoxes[i] as HTMLElement,
    )
  );
  let last: { at: number; counters: Counters } | null = null;
  let stopped = false;

  async function sample(): Promise<void> {
    const [stats, metrics] = await Promise.all([
      call<unknown>("GET", "/stats", { query: { aggregate: true } }),
      call<unknown>("GET", "/metrics", { query: { aggregate: true } }),
    ]);
    if (stopped) return;
    const at = Date.now() / 1000;
    const counters = { ...aggregate(metrics), ...aggregate(stats) };
    for (const [key, el] of cards) el.textContent = String(counters[key] ?? 0);
    let column = 0;
    times.push(at);
    for (const chart of CHARTS) {
      for (const s of chart.series) {
        const now = counters[s.key] ?? 0;
        const before = last?.counters[s.key];
        const v = !s.rate
          ? now
          : last && before !== undefined
          ? Math.max(0, (now - before) / (at - last.at))
          : 0;
        values[column++]?.push(Math.round(v * 100) / 100);
      }
    }
    if (times.length > MAX_SAMPLES) {
      times.shift();
      for (const v of values) v.shift();
    }
    last = { at, counters };
    column = 0;
    plots.forEach((p, i) => {
      const n = CHARTS[i]?.series.length ?? 0;
      p.setData([times, ...values.slice(column, column + n)]);
      column += n;
    });
    status.textContent = `Updated ${new Date().toLocaleTimeString()}`;
  }

  let timer: ReturnType<typeof setTimeout> | undefined;
  async function loop(): Promise<void> {
    try {
      await sample();
    } catch (e) {
      replace(status, errorLine(e));
    }
    if (!stopped) timer = setTimeout(loop, SAMPLE_MS);
  }
  void loop();
  return () => {
    stopped = true;
    clearTimeout(timer);
    for (const p of plots) p.destroy();
  };
}
