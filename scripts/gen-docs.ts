/** Writes docs/settings.md from the settings table: `npm run docs`. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderSettingsDoc } from "../src/config/render.ts";

const out = join(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "..", "docs", "settings.md");
writeFileSync(out, renderSettingsDoc());
console.log(`wrote ${out}`);
