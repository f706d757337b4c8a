import type { Operation } from 'openapi-backend';

const escapeRegExp = (literal: string) => literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// A path that is not validly percent-encoded is refused before routing (src/app.ts); the metrics
// still ask for its route, and get its parameter as sent.
const decoded = (value: string) => {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
};

/** The operation a request names, with its path parameters (decoded); or why there is none. */
type Route = { operation: Operation; params: Record<string, string> } | { operation?: undefined; miss: 404 | 405 };

/**
 * openapi-backend's routing, derived once from the spec's operations instead of on every request
 * (a RegExp per path template, the templates ordered by specificity, the path template compiled
 * again for its parameters on each of the three times a request was parsed). The answers are
 * openapi-backend's: the path trimmed and rid of trailing slashes; an exact path first, then the
 * templates, most literal characters first; none matching the path is a 404, none with the
 * method a 405; parameters percent-decoded. (Every path is under the API root, which is /.)
 */
export function createRouter(operations: Operation[]) {
  const templates = operations
    .filter((operation) => operation.path.includes('{'))
    .map((operation) => ({
      operation,
      names: [...operation.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!),
      pattern: new RegExp(`^${operation.path.split(/\{[^}]+\}/).map(escapeRegExp).join('([^/]+)')}$`),
      literal: operation.path.replace(/\{.*?\}/g, '').length,
    }))
    // Array.prototype.sort is stable, as lodash's orderBy is: equally specific templates keep the spec's order.
    .sort((a, b) => b.literal - a.literal);
  const exact = new Map(operations.map((operation) => [`${operation.method} ${operation.path}`, operation]));
  const exactPaths = new Set(operations.map((operation) => operation.path));

  return (method: string, rawPath: string): Route => {
    let path = rawPath.trim();
    while (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    const verb = method.trim().toLowerCase();
    const operation = exact.get(`${verb} ${path}`);
    if (operation) return { operation, params: {} };
    let pathMatched = exactPaths.has(path);
    for (const { operation, names, pattern } of templates) {
      const values = pattern.exec(path);
      if (!values) continue;
      pathMatched = true;
      if (operation.method !== verb) continue;
      return { operation, params: Object.fromEntries(names.map((name, i) => [name, decoded(values[i + 1]!)])) };
    }
    return { miss: pathMatched ? 405 : 404 };
  };
}
