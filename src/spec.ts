import { readFileSync } from 'node:fs';
import type { Document } from 'openapi-backend';

// `make generate` bundles openapi/ into these two files; `make build` copies them beside dist/src.
const generated = new URL('../generated/', import.meta.url);

export const specJsonText = readFileSync(new URL('openapi.json', generated), 'utf8');
export const specYamlText = readFileSync(new URL('openapi.yaml', generated), 'utf8');

/** A fresh copy each call: openapi-backend dereferences the document it is given in place. */
export const loadSpec = (): Document => JSON.parse(specJsonText) as Document;
