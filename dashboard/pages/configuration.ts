/**
 * The running configuration, read-only (GET /configs), one section per root key.
 *
 * @module
 */

import { call } from "../api.ts";
import { h, replace } from "../dom.ts";
import { errorLine } from "../list.ts";

/** Renders the configuration. */
export async function renderConfiguration(main: HTMLElement): Promise<void> {
  replace(
    main,
    h("h2", null, "Configuration"),
    h(
      "p",
      { class: "hint" },
      "Read-only. Change keys in the config file, the environment or with PUT /api/v5/configs.",
    ),
  );
  try {
    const config = await call<Record<string, unknown>>("GET", "/configs");
    for (const [key, value] of Object.entries(config)) {
      main.append(
        h(
          "details",
          { class: "card config", open: true },
          h("summary", null, key),
          h("pre", null, JSON.stringify(value, null, 2)),
        ),
      );
    }
  } catch (e) {
    main.append(errorLine(e));
  }
}
