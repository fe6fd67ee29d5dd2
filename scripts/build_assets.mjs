// Copies the front-end files the app uses from node_modules into dealercrm/static/vendor.
// No bundler: each library ships a ready-made browser build.
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";

const root = join(dirname(new URL(import.meta.url).pathname), "..");
const out = join(root, "dealercrm", "static", "vendor");
const files = {
  "@tabler/core/dist/css/tabler.min.css": "tabler/tabler.min.css",
  "@tabler/core/dist/js/tabler.min.js": "tabler/tabler.min.js",
  "@tabler/icons-webfont/dist/tabler-icons.min.css": "tabler-icons/tabler-icons.min.css",
  // Only the regular weight the stylesheet names (the other weights are 8 MB more).
  "@tabler/icons-webfont/dist/fonts/tabler-icons.woff2": "tabler-icons/fonts/tabler-icons.woff2",
  "@tabler/icons-webfont/dist/fonts/tabler-icons.woff": "tabler-icons/fonts/tabler-icons.woff",
  "@tabler/icons-webfont/dist/fonts/tabler-icons.ttf": "tabler-icons/fonts/tabler-icons.ttf",
  "htmx.org/dist/htmx.min.js": "htmx/htmx.min.js",
  "alpinejs/dist/cdn.min.js": "alpinejs/alpine.min.js",
  "echarts/dist/echarts.min.js": "echarts/echarts.min.js",
};

rmSync(out, { recursive: true, force: true });
for (const [from, to] of Object.entries(files)) {
  const target = join(out, to);
  mkdirSync(dirname(target), { recursive: true });
  cpSync(join(root, "node_modules", from), target, { recursive: true });
}
console.log(`copied ${Object.keys(files).length} front-end assets to ${out}`);
