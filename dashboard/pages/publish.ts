/**
 * The publish form (POST /publish): topic, payload, QoS, retain, and the answer as EMQX gives it
 * (200 with the message id, 202 no_matching_subscribers, 400 with reason_code).
 *
 * @module
 */

import { callWithStatus } from "../api.ts";
import { field, h, replace } from "../dom.ts";

/** Renders the publish form. */
export function renderPublish(main: HTMLElement): void {
  const topic = h("input", { name: "topic", required: true, value: "test/topic" });
  const payload = h("textarea", { name: "payload", rows: 5, cols: 60, value: "Hello from Culex" });
  const qos = h(
    "select",
    { name: "qos" },
    [0, 1, 2].map((q) => h("option", { value: q }, `QoS ${q}`)),
  );
  const retain = h("input", { name: "retain", type: "checkbox" });
  const result = h("p", { id: "publish-result", role: "status" });
  const form = h(
    "form",
    { class: "card form", id: "publish-form" },
    field("Topic", topic),
    field("Payload", payload),
    field("QoS", qos),
    field("Retain", retain),
    h("button", { type: "submit" }, "Publish"),
    result,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    result.textContent = "Publishing…";
    try {
      const { status, body } = await callWithStatus<Record<string, unknown>>("POST", "/publish", {
        topic: topic.value,
        payload: payload.value,
        payload_encoding: "plain",
        qos: Number(qos.value),
        retain: retain.checked,
      });
      result.className = status >= 400 ? "error" : "ok";
      result.textContent = status === 200
        ? `Published (id ${String(body?.id ?? "")}).`
        : status === 202
        ? "Published, but no subscriber matched."
        : `Refused (${status}): ${String(body?.message ?? JSON.stringify(body))}`;
    } catch (e) {
      result.className = "error";
      result.textContent = e instanceof Error ? e.message : String(e);
    }
  });
  replace(main, h("h2", null, "Publish"), form);
}
