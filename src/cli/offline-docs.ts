// `make docs`, after `redocly build-docs --inlineBundle`: makes the page need no network at all.
import { readFileSync, writeFileSync } from 'node:fs';
import { withoutCdnLogos } from '../docs/offline.js';

const file = process.argv[2];
if (!file) {
  console.error('usage: offline-docs <built index.html>');
  process.exit(2);
}
const html = withoutCdnLogos(readFileSync(file, 'utf8'));
// Without --inlineBundle the page imports Redoc from cdn.redocly.com and is an empty shell offline.
const leftovers = [...new Set(html.match(/https:\/\/cdn\.redoc(ly\.com|\.ly)\/redoc\/[^\s"'`)]+/g) ?? [])];
if (leftovers.length > 0) {
  console.error(`${file} still loads Redoc from a CDN (was it built with --inlineBundle?):\n  ${leftovers.join('\n  ')}`);
  process.exit(1);
}
writeFileSync(file, html);
console.log(`${file}: self-contained, ${Math.round(Buffer.byteLength(html) / 1024)} KiB`);
