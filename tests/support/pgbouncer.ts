import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { freePort } from './conformance-proxy.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** PgBouncer in front of TEST_DATABASE_URL's server (`make test-pgbouncer`); the app connects through it. */
    pgbouncerUrl: string | undefined;
  }
}

// PgBouncer refuses to run as root: as root, run it as the server's own user.
const RUN_AS = 'postgres';

const config = (dir: string, server: URL, port: number) => `[databases]
* = host=${server.hostname} port=${server.port || 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = trust
admin_users = ${decodeURIComponent(server.username || 'postgres')}
auth_file = ${join(dir, 'userlist.txt')}
pool_mode = transaction
ignore_startup_parameters = extra_float_digits
max_client_conn = 500
default_pool_size = 20
logfile = ${join(dir, 'pgbouncer.log')}
pidfile = ${join(dir, 'pgbouncer.pid')}
`;

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined); // a reset while PgBouncer starts or stops is an answer of "no"
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Vitest global setup for `make test-pgbouncer`: PgBouncer 1.18 in transaction pooling mode on a
 * free port, with its own config in a temporary directory, stopped after the run. Test databases
 * are still created and migrated directly on TEST_DATABASE_URL's server.
 */
export default async function setup(project: TestProject) {
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) throw new Error('TEST_PGBOUNCER needs TEST_DATABASE_URL (the PostgreSQL server behind PgBouncer)');
  const server = new URL(serverUrl);
  const dir = mkdtempSync(join(tmpdir(), 'tm-pgbouncer-'));
  const port = await freePort();
  const file = join(dir, 'pgbouncer.ini');
  writeFileSync(file, config(dir, server, port));
  writeFileSync(join(dir, 'userlist.txt'), `"${decodeURIComponent(server.username || 'postgres')}" ""\n`);

  const asRoot = userInfo().uid === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', RUN_AS], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', RUN_AS], { encoding: 'utf8' }));
    for (const path of [dir, file, join(dir, 'userlist.txt')]) chownSync(path, uid, gid);
  }
  // -d: daemonise once listening, so its pid file tells how to stop it.
  if (asRoot) execFileSync('su', [RUN_AS, '-s', '/bin/sh', '-c', `pgbouncer -d ${file}`], { stdio: 'inherit' });
  else execFileSync('pgbouncer', ['-d', file], { stdio: 'inherit' });

  const url = new URL(serverUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  const stop = () => {
    try {
      process.kill(Number(readFileSync(join(dir, 'pgbouncer.pid'), 'utf8')), 'SIGTERM');
    } catch {
      // never started, or already gone
    }
  };
  let ready = false;
  for (let i = 0; i < 50 && !ready; i++) {
    ready = await answers(url.href);
    if (!ready) await sleep(100);
  }
  if (!ready) {
    stop();
    throw new Error(`PgBouncer did not answer on port ${port}; see ${join(dir, 'pgbouncer.log')}`);
  }
  console.log(`== PgBouncer 1.18, transaction pooling, on 127.0.0.1:${port} in front of ${server.host}`);
  project.provide('pgbouncerUrl', url.href);

  return async () => {
    stop();
    for (let i = 0; i < 50 && (await answers(url.href)); i++) await sleep(100);
    rmSync(dir, { recursive: true, force: true });
  };
}
