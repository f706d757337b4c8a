/**
 * Finds the changes between two bundled OpenAPI 3.0 documents that would break a client written
 * against the older one. The rules, and why:
 *
 * Requests (what old clients send must still be accepted):
 * - a path or an operation is gone;
 * - a parameter became required, or a new required one appeared;
 * - a query parameter is gone (this API answers unknown query parameters with 422);
 * - a request body became required, or a media type it accepted is gone;
 * - a body field became required, or a new required one appeared (readOnly fields excepted);
 * - a body field is gone while the body refuses unknown fields (`additionalProperties: false`),
 *   or the body started refusing unknown fields;
 * - a type changed (integer → number is a widening, not a break), `nullable` was dropped, a
 *   `format` was added or changed, an enum lost a value or a free value became an enum, a
 *   bound narrowed (minLength, maxLength, minimum, maximum, minItems, maxItems, minProperties,
 *   maxProperties), or a `pattern` changed (regular expressions cannot be compared, so any
 *   change counts);
 * - an operation that needed no credentials needs them now, or needs other ones.
 *
 * Responses (what old clients read must still be there, in the shape they expect):
 * - a success status (2xx) or a media type of one is gone, or a header of one is gone;
 * - a field is gone, or a field that was always there (required) may now be missing;
 * - a type changed (number → integer is a narrowing, not a break), a field may now be null,
 *   a `format` changed or was dropped;
 * - an enum gained a value, or stopped being an enum: clients (our generated TypeScript types
 *   among them) treat the set as closed, so a new value is one their code has no branch for.
 *   An enum that lost a value is fine: old clients simply never see it again.
 *
 * Schemas of error responses are compared too (clients read `type`, `status`, `errors[]`), but
 * a documented error status that is no longer listed is not a break. New operations, new
 * optional parameters and fields, new response fields, and widened requests are not breaks.
 * Not checked: new success statuses, `oneOf`/`anyOf` beyond "did they change at all" (any change
 * counts), bounds in responses, request headers and cookies that disappear (servers ignore
 * unknown ones), servers, callbacks and links.
 */

export type Rule =
  | 'path-removed'
  | 'operation-removed'
  | 'parameter-removed'
  | 'parameter-required'
  | 'request-body-required'
  | 'request-body-removed'
  | 'media-type-removed'
  | 'property-required'
  | 'property-removed'
  | 'additional-properties-refused'
  | 'property-optional'
  | 'response-status-removed'
  | 'response-header-removed'
  | 'type-changed'
  | 'nullable-changed'
  | 'format-changed'
  | 'enum-narrowed'
  | 'enum-widened'
  | 'constraint-narrowed'
  | 'pattern-changed'
  | 'composition-changed'
  | 'security-changed';

export interface BreakingChange {
  rule: Rule;
  /** Where, e.g. `POST /tasks request body (application/json) /status`. */
  location: string;
  message: string;
}

type Json = Record<string, unknown>;
type Direction = 'request' | 'response';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const asObject = (value: unknown): Json => (isObject(value) ? value : {});
const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const asStrings = (value: unknown): string[] => asArray(value).filter((item): item is string => typeof item === 'string');
const show = (value: unknown) => JSON.stringify(value);

/** Follows local `$ref`s (`#/components/...`), as in a bundled document. */
class Resolver {
  constructor(private readonly doc: Json) {}

  deref(node: unknown): Json {
    let current = node;
    for (let hops = 0; isObject(current) && typeof current.$ref === 'string'; hops++) {
      if (hops > 50) throw new Error(`$ref loop at ${current.$ref}`);
      current = this.pointer(current.$ref);
    }
    return asObject(current);
  }

  private pointer(ref: string): unknown {
    if (!ref.startsWith('#/')) throw new Error(`only local $refs are supported (bundle the document first): ${ref}`);
    return ref
      .slice(2)
      .split('/')
      .map((part) => decodeURIComponent(part).replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce<unknown>((node, key) => (isObject(node) ? node[key] : undefined), this.doc);
  }

  /** A schema with its `$ref`s followed and its `allOf` merged into one object schema. */
  schema(node: unknown): Json {
    const schema = this.deref(node);
    if (!Array.isArray(schema.allOf)) return schema;
    const { allOf, ...own } = schema;
    const parts = [...(allOf as unknown[]).map((part) => this.schema(part)), own];
    const merged: Json = {};
    const properties: Json = {};
    const required = new Set<string>();
    for (const part of parts) {
      for (const [key, value] of Object.entries(part)) {
        if (key === 'properties') Object.assign(properties, asObject(value));
        else if (key === 'required') asStrings(value).forEach((name) => required.add(name));
        else merged[key] = value;
      }
    }
    if (Object.keys(properties).length > 0) merged.properties = properties;
    if (required.size > 0) merged.required = [...required];
    return merged;
  }

  /** The whole subtree with every `$ref` followed, for structural comparison. */
  expand(node: unknown, depth = 0): unknown {
    if (depth > 30) return '…';
    if (Array.isArray(node)) return node.map((item) => this.expand(item, depth + 1));
    if (!isObject(node)) return node;
    const target = this.deref(node);
    return Object.fromEntries(
      Object.keys(target)
        .sort()
        .filter((key) => !['description', 'example', 'examples', 'title'].includes(key))
        .map((key) => [key, this.expand(target[key], depth + 1)]),
    );
  }
}

class Comparison {
  readonly changes: BreakingChange[] = [];
  private readonly base: Resolver;
  private readonly head: Resolver;
  private readonly active: Array<[Json, Json]> = [];

  constructor(
    private readonly baseDoc: Json,
    private readonly headDoc: Json,
  ) {
    this.base = new Resolver(baseDoc);
    this.head = new Resolver(headDoc);
  }

  private report(rule: Rule, location: string, message: string) {
    this.changes.push({ rule, location, message });
  }

  run() {
    const basePaths = asObject(this.baseDoc.paths);
    const headPaths = asObject(this.headDoc.paths);
    // `/tasks/{id}` and `/tasks/{taskId}` are the same URL to a client.
    const headByShape = new Map(Object.keys(headPaths).map((path) => [pathShape(path), path]));
    for (const [path, baseItemNode] of Object.entries(basePaths)) {
      const headPath = headByShape.get(pathShape(path));
      if (headPath === undefined) {
        this.report('path-removed', path, `the path ${path} is gone`);
        continue;
      }
      const baseItem = this.base.deref(baseItemNode);
      const headItem = this.head.deref(headPaths[headPath]);
      for (const method of METHODS) {
        if (!isObject(baseItem[method])) continue;
        const where = `${method.toUpperCase()} ${path}`;
        if (!isObject(headItem[method])) {
          this.report('operation-removed', where, `the operation ${where} is gone`);
          continue;
        }
        this.operation(where, path, headPath, baseItem, headItem, method);
      }
    }
    this.securitySchemes();
    return this.changes;
  }

  private operation(where: string, basePath: string, headPath: string, baseItem: Json, headItem: Json, method: string) {
    const baseOp = asObject(baseItem[method]);
    const headOp = asObject(headItem[method]);
    this.parameters(where, basePath, headPath, baseItem, baseOp, headItem, headOp);
    this.requestBody(where, baseOp, headOp);
    this.responses(where, baseOp, headOp);
    this.security(where, baseOp, headOp);
  }

  private parameters(where: string, basePath: string, headPath: string, baseItem: Json, baseOp: Json, headItem: Json, headOp: Json) {
    const baseParams = effectiveParameters(this.base, basePath, baseItem, baseOp);
    const headParams = effectiveParameters(this.head, headPath, headItem, headOp);
    for (const [key, baseParam] of baseParams) {
      const name = `${String(baseParam.in)} parameter ${String(baseParam.name)}`;
      const headParam = headParams.get(key);
      if (!headParam) {
        if (baseParam.in === 'query') {
          this.report('parameter-removed', `${where} ${name}`, `the ${name} is gone; this API refuses unknown query parameters (422)`);
        }
        continue;
      }
      if (headParam.required === true && baseParam.required !== true) {
        this.report('parameter-required', `${where} ${name}`, `the ${name} is now required`);
      }
      this.schema('request', `${where} ${name}`, baseParam.schema, headParam.schema);
    }
    for (const [key, headParam] of headParams) {
      if (!baseParams.has(key) && headParam.required === true) {
        const name = `${String(headParam.in)} parameter ${String(headParam.name)}`;
        this.report('parameter-required', `${where} ${name}`, `a new required ${name}`);
      }
    }
  }

  private requestBody(where: string, baseOp: Json, headOp: Json) {
    const baseBody = isObject(baseOp.requestBody) ? this.base.deref(baseOp.requestBody) : undefined;
    const headBody = isObject(headOp.requestBody) ? this.head.deref(headOp.requestBody) : undefined;
    if (headBody?.required === true && baseBody?.required !== true) {
      this.report('request-body-required', `${where} request body`, 'a request body is now required');
    }
    if (!baseBody) return;
    if (!headBody) {
      this.report('request-body-removed', `${where} request body`, 'the operation no longer takes a request body');
      return;
    }
    const headContent = asObject(headBody.content);
    for (const [mediaType, baseMedia] of Object.entries(asObject(baseBody.content))) {
      const location = `${where} request body (${mediaType})`;
      if (!isObject(headContent[mediaType])) {
        this.report('media-type-removed', location, `${mediaType} is no longer accepted`);
        continue;
      }
      this.schema('request', location, asObject(baseMedia).schema, asObject(headContent[mediaType]).schema);
    }
  }

  private responses(where: string, baseOp: Json, headOp: Json) {
    const headResponses = asObject(headOp.responses);
    for (const [status, baseNode] of Object.entries(asObject(baseOp.responses))) {
      const success = /^2/.test(status);
      const headNode = headResponses[status];
      if (!isObject(headNode)) {
        if (success) this.report('response-status-removed', `${where} ${status} response`, `the ${status} response is gone`);
        continue;
      }
      const baseResponse = this.base.deref(baseNode);
      const headResponse = this.head.deref(headNode);
      const headContent = asObject(headResponse.content);
      for (const [mediaType, baseMedia] of Object.entries(asObject(baseResponse.content))) {
        const location = `${where} ${status} response (${mediaType})`;
        if (!isObject(headContent[mediaType])) {
          if (success) this.report('media-type-removed', location, `the ${status} response is no longer ${mediaType}`);
          continue;
        }
        this.schema('response', location, asObject(baseMedia).schema, asObject(headContent[mediaType]).schema);
      }
      if (!success) continue;
      const headHeaders = new Map(Object.entries(asObject(headResponse.headers)).map(([name, header]) => [name.toLowerCase(), header]));
      for (const [name, baseHeader] of Object.entries(asObject(baseResponse.headers))) {
        const location = `${where} ${status} response header ${name}`;
        const headHeader = headHeaders.get(name.toLowerCase());
        if (!isObject(headHeader)) {
          this.report('response-header-removed', location, `the ${name} header is gone`);
          continue;
        }
        this.schema('response', location, this.base.deref(baseHeader).schema, this.head.deref(headHeader).schema);
      }
    }
  }

  private security(where: string, baseOp: Json, headOp: Json) {
    const base = requirements(baseOp.security ?? this.baseDoc.security);
    const head = requirements(headOp.security ?? this.headDoc.security);
    // Each requirement is one way to authenticate; an old client uses one of the old ways.
    const lost = base.filter((way) => !head.includes(way));
    if (lost.length > 0) {
      const describe = (ways: string[]) => ways.map((way) => way || 'no credentials').join(' or ');
      this.report('security-changed', `${where} security`, `accepted ${describe(base)}, now ${describe(head)}`);
    }
  }

  private securitySchemes() {
    const base = asObject(asObject(this.baseDoc.components).securitySchemes);
    const head = asObject(asObject(this.headDoc.components).securitySchemes);
    for (const [name, node] of Object.entries(base)) {
      if (!isObject(head[name])) continue; // an operation still using it is reported above
      const before = this.base.deref(node);
      const after = this.head.deref(head[name]);
      for (const key of ['type', 'scheme', 'in', 'name']) {
        if (String(before[key]).toLowerCase() !== String(after[key]).toLowerCase()) {
          this.report('security-changed', `security scheme ${name}`, `${key} changed from ${show(before[key])} to ${show(after[key])}`);
        }
      }
    }
  }

  /** Compares one schema pair; `location` ends with a JSON pointer into the value once inside it. */
  private schema(direction: Direction, location: string, baseNode: unknown, headNode: unknown, pointer = '') {
    if (baseNode === undefined || headNode === undefined) return;
    const base = this.base.schema(baseNode);
    const head = this.head.schema(headNode);
    // A recursive schema: this pair is already being compared further up.
    if (this.active.some(([b, h]) => b === base && h === head) || this.active.length > 40) return;
    this.active.push([base, head]);
    try {
      this.schemaPair(direction, location, base, head, pointer);
    } finally {
      this.active.pop();
    }
  }

  private schemaPair(direction: Direction, location: string, base: Json, head: Json, pointer: string) {

    const at = pointer ? `${location} ${pointer}` : location;
    const request = direction === 'request';

    if (['oneOf', 'anyOf', 'not'].some((key) => key in base || key in head)) {
      const shape = (resolver: Resolver, schema: Json) =>
        show(['oneOf', 'anyOf', 'not'].map((key) => resolver.expand(schema[key])));
      if (shape(this.base, base) !== shape(this.head, head)) {
        this.report('composition-changed', at, 'oneOf/anyOf/not changed; this checker cannot tell whether that is compatible');
      }
    }

    const baseType = base.type as string | undefined;
    const headType = head.type as string | undefined;
    if (baseType !== headType) {
      const widened = request ? baseType === 'integer' && headType === 'number' : baseType === 'number' && headType === 'integer';
      const loosened = headType === undefined ? request : baseType === undefined && !request;
      if (!widened && !loosened) {
        this.report('type-changed', at, `type changed from ${baseType ?? 'any'} to ${headType ?? 'any'}`);
        return;
      }
    }

    if (request && base.nullable === true && head.nullable !== true) this.report('nullable-changed', at, 'null is no longer accepted');
    if (!request && base.nullable !== true && head.nullable === true) this.report('nullable-changed', at, 'the value may now be null');

    if (head.format !== base.format && (request ? head.format !== undefined : base.format !== undefined)) {
      this.report('format-changed', at, `format changed from ${show(base.format) ?? 'none'} to ${show(head.format) ?? 'none'}`);
    }

    this.enumeration(direction, at, base, head);
    if (request) this.bounds(at, base, head);

    const baseProperties = asObject(base.properties);
    const headProperties = asObject(head.properties);
    // readOnly fields are not sent, writeOnly fields are not returned.
    const ignored = (resolver: Resolver, properties: Json, name: string) =>
      resolver.schema(properties[name])[request ? 'readOnly' : 'writeOnly'] === true;
    const baseRequired = new Set(asStrings(base.required));
    const headRequired = new Set(asStrings(head.required));

    if (request) {
      for (const name of headRequired) {
        if (!baseRequired.has(name) && !ignored(this.head, headProperties, name)) {
          const message = name in baseProperties ? `the field ${name} is now required` : `a new required field ${name}`;
          this.report('property-required', child(at, pointer, name), message);
        }
      }
      if (head.additionalProperties === false) {
        if (base.additionalProperties !== false && (base.type === 'object' || 'properties' in base)) {
          this.report('additional-properties-refused', at, 'fields not listed in the schema are now refused');
        }
        for (const name of Object.keys(baseProperties)) {
          if (!(name in headProperties) && !ignored(this.base, baseProperties, name)) {
            this.report('property-removed', child(at, pointer, name), `the field ${name} is gone and unknown fields are refused`);
          }
        }
      }
    } else {
      for (const name of Object.keys(baseProperties)) {
        if (ignored(this.base, baseProperties, name)) continue;
        if (!(name in headProperties)) {
          this.report('property-removed', child(at, pointer, name), `the field ${name} is gone`);
        } else if (baseRequired.has(name) && !headRequired.has(name)) {
          this.report('property-optional', child(at, pointer, name), `the field ${name} may now be missing`);
        }
      }
    }

    for (const name of Object.keys(baseProperties)) {
      if (name in headProperties) this.schema(direction, location, baseProperties[name], headProperties[name], `${pointer}/${name}`);
    }
    if (isObject(base.additionalProperties) && isObject(head.additionalProperties)) {
      this.schema(direction, location, base.additionalProperties, head.additionalProperties, `${pointer}/*`);
    }
    if (base.items !== undefined && head.items !== undefined) {
      this.schema(direction, location, base.items, head.items, `${pointer}/[]`);
    }
  }

  private enumeration(direction: Direction, at: string, base: Json, head: Json) {
    const before = Array.isArray(base.enum) ? base.enum.map(show) : undefined;
    const after = Array.isArray(head.enum) ? head.enum.map(show) : undefined;
    if (direction === 'request' && after) {
      const removed = before ? before.filter((value) => !after.includes(value)) : ['any other value'];
      if (removed.length > 0) this.report('enum-narrowed', at, `no longer accepts ${removed.join(', ')}`);
    }
    if (direction === 'response' && before) {
      const added = after ? after.filter((value) => !before.includes(value)) : ['any value'];
      if (added.length > 0) this.report('enum-widened', at, `may now return ${added.join(', ')}, which old clients do not expect`);
    }
  }

  private bounds(at: string, base: Json, head: Json) {
    const lower = ['minLength', 'minimum', 'minItems', 'minProperties'];
    const upper = ['maxLength', 'maximum', 'maxItems', 'maxProperties'];
    for (const key of [...lower, ...upper]) {
      const before = typeof base[key] === 'number' ? (base[key] as number) : undefined;
      const after = typeof head[key] === 'number' ? (head[key] as number) : undefined;
      if (after === undefined) continue;
      const narrowed = before === undefined || (lower.includes(key) ? after > before : after < before);
      if (narrowed) this.report('constraint-narrowed', at, `${key} narrowed from ${before ?? 'none'} to ${after}`);
    }
    if (typeof head.pattern === 'string' && head.pattern !== base.pattern) {
      this.report('pattern-changed', at, `pattern changed from ${show(base.pattern) ?? 'none'} to ${show(head.pattern)}`);
    }
  }
}

function child(at: string, pointer: string, name: string) {
  return pointer ? `${at}/${name}` : `${at} /${name}`;
}

/** `/tasks/{id}` → `/tasks/{}`. */
const pathShape = (path: string) => path.replace(/\{[^}]*\}/g, '{}');

/** Path-level and operation-level parameters, keyed so that renamed path parameters still match. */
function effectiveParameters(resolver: Resolver, path: string, item: Json, operation: Json) {
  const templateNames = [...path.matchAll(/\{([^}]*)\}/g)].map((match) => match[1]);
  const keyOf = (param: Json) => {
    const name = String(param.name);
    if (param.in === 'path') return `path:${templateNames.indexOf(name)}`;
    if (param.in === 'header') return `header:${name.toLowerCase()}`;
    return `${String(param.in)}:${name}`;
  };
  const params = new Map<string, Json>();
  for (const node of [...asArray(item.parameters), ...asArray(operation.parameters)]) {
    const param = resolver.deref(node);
    params.set(keyOf(param), param);
  }
  return params;
}

/** Security requirements as comparable strings: `''` for none, `bearerAuth` or `a+b` for both. */
function requirements(security: unknown): string[] {
  const list = asArray(security).map((requirement) => Object.keys(asObject(requirement)).sort().join('+'));
  return list.length === 0 ? [''] : [...new Set(list)];
}

/** Every change from `base` to `head` that breaks a client of `base`. Both documents bundled (local $refs only). */
export function findBreakingChanges(base: object, head: object): BreakingChange[] {
  return new Comparison(base as Json, head as Json).run();
}

export interface ReleaseCheck {
  baseVersion: string;
  headVersion: string;
  /** The major part of info.version moved up: breaking changes are allowed. */
  majorBumped: boolean;
  changes: BreakingChange[];
  ok: boolean;
  problems: string[];
}

const versionOf = (doc: object) => String(asObject(asObject(doc).info).version ?? '');
const semver = (version: string) => /^(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$/.exec(version)?.slice(1, 4).map(Number);

/** Whether `head` may be released after `base`: no breaking change unless info.version's major part moved up. */
export function checkRelease(base: object, head: object): ReleaseCheck {
  const baseVersion = versionOf(base);
  const headVersion = versionOf(head);
  const problems: string[] = [];
  const before = semver(baseVersion);
  const after = semver(headVersion);
  if (!before) problems.push(`the released info.version ${show(baseVersion)} is not MAJOR.MINOR.PATCH`);
  if (!after) problems.push(`info.version ${show(headVersion)} is not MAJOR.MINOR.PATCH`);
  if (before && after && compareVersions(after, before) < 0) {
    problems.push(`info.version ${headVersion} is older than the released ${baseVersion}`);
  }
  const majorBumped = Boolean(before && after && after[0]! > before[0]!);
  const changes = findBreakingChanges(base, head);
  return { baseVersion, headVersion, majorBumped, changes, problems, ok: problems.length === 0 && (majorBumped || changes.length === 0) };
}

export function compareVersions(a: number[], b: number[]) {
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
}

/** The newest `MAJOR.MINOR.PATCH.json` among `names`, or undefined. */
export function newestRelease(names: string[]): string | undefined {
  return names
    .map((name) => ({ name, version: /^(\d+\.\d+\.\d+)\.json$/.exec(name)?.[1] }))
    .filter((entry): entry is { name: string; version: string } => entry.version !== undefined)
    .sort((a, b) => compareVersions(semver(b.version)!, semver(a.version)!))[0]?.name;
}
