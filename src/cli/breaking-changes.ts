// `make breaking`: compares the spec with the last released one (openapi/released/<version>.json).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkRelease, newestRelease } from '../contract/breaking-changes.js';

const [releasedDir, currentFile] = process.argv.slice(2);
if (!releasedDir || !currentFile) {
  console.error('usage: breaking-changes <released dir> <current bundled openapi.json>');
  process.exit(2);
}
const released = newestRelease(readdirSync(releasedDir));
if (!released) {
  console.log(`no released spec in ${releasedDir}: nothing to compare with`);
  process.exit(0);
}
const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as object;
const result = checkRelease(readJson(join(releasedDir, released)), readJson(currentFile));
const against = `${result.headVersion} against the released ${result.baseVersion} (${join(releasedDir, released)})`;

for (const problem of result.problems) console.error(`✗ ${problem}`);
if (result.changes.length === 0) {
  if (result.problems.length === 0) console.log(`✓ no breaking change: ${against}`);
} else {
  const list = result.changes.map((change) => `  ${change.location}: ${change.message} [${change.rule}]`).join('\n');
  if (result.majorBumped) {
    console.log(`✓ ${result.changes.length} breaking change(s), allowed by the major version: ${against}\n${list}`);
  } else {
    console.error(
      `✗ ${result.changes.length} breaking change(s): ${against}\n${list}\n` +
        'Make the change compatible, or bump the major part of info.version in openapi/openapi.yaml.',
    );
  }
}
process.exit(result.ok ? 0 : 1);
