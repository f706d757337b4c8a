# syntax=docker/dockerfile:1
# The API as a container: `docker build -t task-management-api .`, then
#   docker run … task-management-api migrate      (the release step: migrations, on a direct connection)
#   docker run … task-management-api              (the server: node dist/src/main.js, as `npm start`)
# Node 26 is the Active LTS line (since 2026-10-28); CI runs the whole suite on it.
ARG NODE_IMAGE=node:26-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY generated ./generated
COPY migrations ./migrations
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=8000 \
    NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /app
COPY package.json package-lock.json ./
# Runtime dependencies only: no TypeScript, tsx, vitest or Prism in the image.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# `migrate` and `migrate rollback` as commands of their own; DATA_DIR writable for the rare
# embedded-database deployment (ALLOW_EMBEDDED_DATABASE=true, with a volume on /app/.data).
RUN chmod +x dist/src/cli/migrate.js \
 && ln -s /app/dist/src/cli/migrate.js /usr/local/bin/migrate \
 && mkdir -p .data && chown node:node .data
USER node
EXPOSE 8000
# Slim images have no curl: ask with node itself.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1 and gets SIGTERM itself (it drains requests and exits 0). npm start's
# command: the heap limit keeps each process (the primary and every worker, which inherit it) near
# its live size instead of growing towards a limit sized from the host's memory (README: Memory).
CMD ["node", "--max-old-space-size=256", "--max-semi-space-size=8", "dist/src/main.js"]
