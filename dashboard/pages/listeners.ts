/**
 * Listeners (GET /listeners): what each listens on and how many connections it holds. EMQX
 * answers either a flat list or one group per type (`{type, listeners}`) with counts under
 * `status`; both are shown the same way. Stop and start one listener (POST
 * /listeners/{id}/stop|start; stopping closes its connections).
 *
 * @module
 */

import { call, seg } from "../api.ts";
import { confirmButton, h, replace, show, table } from "../dom.ts";
import { errorLine } from "../list.ts";

type Listener = Record<string, unknown>;

function flatten(body: unknown): Listener[] {
  const items = Array.isArray(body) ? body as Listener[] : [];
  return items.flatMap((l) => Array.isArray(l.listeners) ? l.listeners as Listener[] : [l]);
}

function statusOf(l: Listener, key: string): unknown {
  const status = l.status as Record<string, unknown> | undefined;
  return status?.[key] ?? l[key];
}

/** Renders the listener table. */
export async function renderListeners(main: HTMLElement): Promise<void> {
  replace(main, h("h2", null, "Listeners"));
  try {
    const rows = flatten(await call<unknown>("GET", "/listeners"));
    main.append(table(
      [
        { title: "ID", cell: (l) => show(l.id ?? `${show(l.type)}:${show(l.name)}`) },
        { title: "Type", cell: (l) => show(l.type) },
        { title: "Bind", cell: (l) => show(l.bind) },
        { title: "Enabled", cell: (l) => show(l.enable ?? l.enabled) },
        { title: "Running", cell: (l) => show(statusOf(l, "running")) },
        { title: "Connections", cell: (l) => show(statusOf(l, "current_connections")) },
        { title: "Max connections", cell: (l) => show(statusOf(l, "max_connections")) },
        {
          title: "",
          cell: (l) => {
            const id = show(l.id);
            const running = statusOf(l, "running") === true;
            const act = async (action: string) => {
              await call("POST", `/listeners/${seg(id)}/${action}`);
              await renderListeners(main);
            };
            return running
              ? confirmButton("Stop", () => act("stop"))
              : h("button", { type: "button", onclick: () => void act("start") }, "Start");
          },
        },
      ],
      rows,
      "No listeners.",
    ));
  } catch (e) {
    main.append(errorLine(e));
  }
}
