/**
 * `GET /status` (EMQX `emqx_mgmt_api_status`): no authentication, served at `/status` and
 * `/api/v5/status`. Text by default (`Node culex@127.0.0.1 is started` / `culex is running`),
 * JSON with `?format=json`; 503 with `retry-after: 15` while the node is not running.
 *
 * @module
 */

import { z } from "zod";
import { VERSION } from "../version.ts";
import { json } from "./_http.ts";
import { type Route, route } from "./router.ts";

/** The route; `running()` says whether the broker is up (false while it stops). */
export function statusRoutes(nodeName: string, running: () => boolean): Route[] {
  return [
    route<{ format: "text" | "json" }>({
      method: "GET",
      path: "/status",
      tag: "Status",
      summary: "Whether the node runs (no authentication)",
      access: "public",
      query: z.object({ format: z.enum(["text", "json"]).default("text") }),
      responses: { 200: "running", 503: "not running" },
      handle({ query }) {
        const up = running();
        const headers: Record<string, string> = up ? {} : { "retry-after": "15" };
        if (query.format === "json") {
          return json(
            {
              node_name: nodeName,
              rel_vsn: `v${VERSION}`,
              broker_status: up ? "started" : "stopped",
              app_status: up ? "running" : "not_running",
            },
            up ? 200 : 503,
            headers,
          );
        }
        if (!up) return new Response(null, { status: 503, headers });
        return new Response(`Node ${nodeName} is started\nculex is running`, {
          headers: { "content-type": "text/plain" },
        });
      },
    }),
  ];
}
