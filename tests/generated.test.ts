import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const out = mkdtempSync(join(tmpdir(), 'generated-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('generated/', () => {
  it('is exactly what `make generate` makes from openapi/', () => {
    execFileSync('make', ['-s', 'generate', `GENERATED=${out}`], { stdio: 'pipe' });
    const files = readdirSync('generated').sort();
    expect(readdirSync(out).sort()).toEqual(files);
    for (const file of files) {
      expect(readFileSync(join(out, file), 'utf8'), `generated/${file} is stale: run make generate`).toBe(
        readFileSync(join('generated', file), 'utf8'),
      );
    }
  });
});

describe('openapi.yaml', () => {
  it('lints with no errors and no warnings', () => {
    const result = JSON.parse(
      execFileSync('node_modules/.bin/redocly', ['lint', 'openapi/openapi.yaml', '--format=json'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, REDOCLY_TELEMETRY: 'off' },
      }).toString(),
    ) as { totals: { errors: number; warnings: number } };
    expect(result.totals).toMatchObject({ errors: 0, warnings: 0 });
  });
});
