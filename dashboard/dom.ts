/**
 * The dashboard's few DOM helpers: `h()` builds elements, `table()` renders rows by columns,
 * `field()` labels an input. No framework: every page re-renders its own section on change.
 *
 * @module
 */

/** Anything `h()` accepts as a child; falsy values are skipped, arrays are flattened. */
export type Child = Node | string | number | null | undefined | false | Child[];

/** Element properties; `on*` keys add event listeners, `class` sets className. */
export type Props = Record<string, unknown>;

function append(el: Node, child: Child): void {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) {
    for (const c of child) append(el, c);
  } else if (child instanceof Node) {
    el.appendChild(child);
  } else {
    el.appendChild(document.createTextNode(String(child)));
  }
}

/** Creates an element with properties and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props?: Props | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value as EventListener);
    } else if (key === "class") {
      el.className = String(value);
    } else if (key in el && !key.startsWith("data-") && !key.startsWith("aria-")) {
      (el as unknown as Record<string, unknown>)[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

/** Replaces an element's children. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** One column of a table: its title and how a row shows in it. */
export interface Column<T> {
  title: string;
  cell: (row: T) => Child;
}

/** Renders rows as a table, or a line saying there is nothing. */
export function table<T>(columns: Column<T>[], rows: T[], empty = "Nothing here."): HTMLElement {
  if (rows.length === 0) return h("p", { class: "empty" }, empty);
  return h(
    "table",
    null,
    h("thead", null, h("tr", null, columns.map((c) => h("th", null, c.title)))),
    h("tbody", null, rows.map((r) => h("tr", null, columns.map((c) => h("td", null, c.cell(r)))))),
  );
}

/** A labelled form field. */
export function field(label: string, input: HTMLElement): HTMLElement {
  return h("label", { class: "field" }, h("span", null, label), input);
}

/** Key/value rows of an object (nested values as JSON). */
export function kvTable(obj: Record<string, unknown>): HTMLElement {
  return h(
    "table",
    { class: "kv" },
    h(
      "tbody",
      null,
      Object.entries(obj).map(([k, v]) => h("tr", null, h("th", null, k), h("td", null, show(v)))),
    ),
  );
}

/** A value as text: objects as JSON, null as a dash. */
export function show(v: unknown): string {
  if (v === null || v === undefined) return "—";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** An RFC 3339 time (or epoch ms) in the browser's local time, or a dash. */
export function time(v: unknown): string {
  if (v === null || v === undefined || v === "" || v === "infinity") return show(v);
  const d = new Date(typeof v === "number" ? v : String(v));
  return Number.isNaN(d.getTime()) ? String(v) : d.toLocaleString();
}

/** A button that asks once more before it acts (no native confirm(): it blocks automation). */
export function confirmButton(label: string, action: () => Promise<void>): HTMLButtonElement {
  let armed = false;
  let disarm: ReturnType<typeof setTimeout> | undefined;
  const button = h("button", { class: "danger", type: "button" }, label);
  button.addEventListener("click", async () => {
    if (!armed) {
      armed = true;
      button.textContent = `Confirm ${label.toLowerCase()}`;
      disarm = setTimeout(() => {
        armed = false;
        button.textContent = label;
      }, 4000);
      return;
    }
    clearTimeout(disarm);
    button.disabled = true;
    try {
      await action();
      button.textContent = label;
    } catch (e) {
      // Shown on the button itself: the row it belongs to may have no other place for it.
      button.textContent = `${label} failed: ${e instanceof Error ? e.message : String(e)}`;
    } finally {
      button.disabled = false;
      armed = false;
    }
  });
  return button;
}
