/**
 * Schema of the `log` keys, EMQX's names: `log.console.{enable,level}` and
 * `log.file.{enable,level,path,rotation_size,rotation_count}`, plus Culex's `log.level` (the
 * default level of both handlers) and `log.format`. Private to src/config/; schema.ts wires it
 * in. The file handler's bound is rotation_size × (rotation_count + 1) bytes on disk.
 */

import { z } from "zod";
import { bool, int, oneOf, size } from "./_fields.ts";
import type { LogConfig } from "./types.ts";

const MB = 1024 * 1024;
const LEVELS = ["debug", "info", "warning", "error"] as const;

const handler = {
  enable: bool(),
  // Unset: log.level applies.
  level: oneOf(LEVELS).optional(),
};

/** The `log` mapping. */
export const logSchema = z.strictObject({
  level: oneOf(LEVELS).default("info"),
  format: oneOf(["text", "json"] as const).default("text"),
  console: z.strictObject({ ...handler, enable: handler.enable.default(true) }).prefault({}),
  file: z.strictObject({
    ...handler,
    enable: handler.enable.default(false),
    path: z.string().min(1, 'a file path such as "log/culex.log"').default("log/culex.log"),
    // EMQX: 50MB and 10 files; at least 1KB so that a line fits.
    rotation_size: size(1024, 64 * 1024 * MB).default(50 * MB),
    rotation_count: int(1, 128).default(10),
  }).prefault({}),
}).transform((l): LogConfig => ({
  level: l.level,
  format: l.format,
  console: { enable: l.console.enable, level: l.console.level ?? l.level },
  file: {
    enable: l.file.enable,
    level: l.file.level ?? l.level,
    path: l.file.path,
    rotationSize: l.file.rotation_size,
    rotationCount: l.file.rotation_count,
  },
}));
