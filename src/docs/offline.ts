/**
 * Redoc (2 on /redoc, 3 in the page `redocly build-docs` makes) draws its "API docs by Redocly"
 * logo from cdn.redoc.ly, whatever the options: the only thing either loads from another host.
 * Offline that is a failed request and a console error; under our Content-Security-Policy it is a
 * CSP violation. These inline images (allowed by `img-src data:`) take its place.
 */
const svg = (markup: string) => `data:image/svg+xml,${encodeURIComponent(markup)}`;

export const REDOCLY_LOGO = svg(
  "<svg xmlns='http://www.w3.org/2000/svg' width='52' height='14' viewBox='0 0 52 14'>" +
    "<text x='0' y='11' font-family='sans-serif' font-size='11' fill='#0044D4'>Redocly</text></svg>",
);
export const REDOCLY_MARK = svg(
  "<svg xmlns='http://www.w3.org/2000/svg' width='12' height='12' viewBox='0 0 12 12'>" +
    "<rect width='12' height='12' rx='3' fill='#0044D4'/></svg>",
);

const CDN_LOGOS: Array<[string, string]> = [
  ['https://cdn.redoc.ly/redoc/logo-mini-full.svg', REDOCLY_LOGO],
  ['https://cdn.redoc.ly/redoc/logo-mini.svg', REDOCLY_MARK],
];

/** The same Redoc script or page, with the CDN logos replaced by inline images. */
export function withoutCdnLogos(source: string): string {
  return CDN_LOGOS.reduce((text, [url, inline]) => text.split(url).join(inline), source);
}
