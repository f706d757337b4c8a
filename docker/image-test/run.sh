#!/usr/bin/env bash
# make image-test: the Docker image and compose.yaml built and run for real, on a machine with no
# Docker engine and no container registry (Debian 12, the npm registry and Debian's archive only).
# Installs podman, buildah, mmdebstrap and docker-compose from Debian, makes local stand-ins for the
# base images (base-images.sh), builds the Dockerfiles in Docker format (so HEALTHCHECK stays), and
# runs tests/image.test.ts against them: migrate, serve, health check, non-root, SIGTERM exit 0,
# migrate rollback, then compose.yaml through podman's Docker-compatible API.
# Base images stay in podman's storage and downloads in $CACHE, so a second run is quick; a run
# without either makes them.
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$SECONDS
export CACHE=${IMAGE_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/task-management-api/image-test}
export NODE_MAJOR
NODE_MAJOR=$(sed -n 's/^ARG NODE_IMAGE=node:\([0-9]*\)-slim$/\1/p' Dockerfile)

# podman's CNI networks need the plugins, and the dnsname one so that compose's services find each other.
packages=(podman buildah mmdebstrap docker-compose containernetworking-plugins golang-github-containernetworking-plugin-dnsname uidmap)
missing=()
for package in "${packages[@]}"; do dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q 'ok installed' || missing+=("$package"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

docker/image-test/base-images.sh
# Podman raises a container's open-files and process limits to their maxima by default; where the
# machine refuses that (nested namespaces in a sandbox, as here), containers get the machine's own
# open-files limit and 4096 processes instead (the server and PostgreSQL use a few dozen).
if ! podman run --rm docker.io/library/debian:bookworm-slim true >/dev/null 2>&1; then
  printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=4096:4096"]\n' "$(ulimit -Hn)" "$(ulimit -Hn)" > "$CACHE/containers.conf"
  export CONTAINERS_CONF="$CACHE/containers.conf"
  podman run --rm docker.io/library/debian:bookworm-slim true
fi
echo "== building the images (podman build --format docker)"
# npm ci in the build trusts the CAs this machine trusts (a TLS-intercepting proxy's, say): the
# host's CA file and an npmrc naming it are mounted into the RUN steps only, and stay out of the
# image. npm's own cafile setting lives in the global npmrc of the Node it runs on, which a Node
# from the npm registry (as CI puts first on PATH) does not have; Node's and OpenSSL's variables
# and the system bundle name the same file there.
build=(--quiet --format docker)
cafile=$(npm config get cafile)
for candidate in "$cafile" "${NODE_EXTRA_CA_CERTS:-}" "${SSL_CERT_FILE:-}" /etc/ssl/certs/ca-certificates.crt; do
  if [ "$candidate" != null ] && [ -f "$candidate" ]; then cafile=$candidate; break; fi
done
if [ -f "$cafile" ]; then
  printf 'cafile=/run/host-ca.crt\nupdate-notifier=false\n' > "$CACHE/npmrc"
  build+=(-v "$cafile:/run/host-ca.crt:ro" -v "$CACHE/npmrc:/usr/local/etc/npmrc:ro")
fi
# The build stage tagged too, so that pruning below keeps its layers (npm ci) for the next run.
podman build "${build[@]}" --target build -t task-management-api-build . >/dev/null
podman build "${build[@]}" -t task-management-api . >/dev/null
podman build --quiet --format docker -t task-management-pgbouncer docker/pgbouncer >/dev/null
echo "   images ready after $((SECONDS - start)) s"

TEST_IMAGE=task-management-api \
TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} \
  node_modules/.bin/vitest run tests/image.test.ts "$@"
# Layers of earlier builds that nothing uses any more.
podman image prune -f >/dev/null
echo "image-test took $((SECONDS - start)) s"
