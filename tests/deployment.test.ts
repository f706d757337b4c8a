import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { configVariables, loadConfig } from '../src/config.js';

// No Docker engine runs here (nor can pull images), so what can be checked without one is: the
// files parse, refer to what exists, and agree with the server's configuration and npm scripts.
const run = promisify(execFile);
const read = (file: string) => readFileSync(file, 'utf8');
const packageJson = JSON.parse(read('package.json')) as { scripts: Record<string, string>; engines: { node: string } };

const KEYWORDS = new Set(['ARG', 'FROM', 'WORKDIR', 'COPY', 'RUN', 'ENV', 'USER', 'EXPOSE', 'HEALTHCHECK', 'CMD', 'ENTRYPOINT', 'LABEL', 'STOPSIGNAL']);

function stages(file: string) {
  const dockerfile = DockerfileParser.parse(read(file));
  const result: { name: string | null; image: string; instructions: Instruction[] }[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    if (instruction.getKeyword() === 'FROM') {
      const from = dockerfile.getFROMs().find((f) => f.getRange().start.line === instruction.getRange().start.line)!;
      result.push({ name: from.getBuildStage(), image: from.getImage() ?? '', instructions: [] });
    } else {
      result.at(-1)?.instructions.push(instruction);
    }
  }
  return { dockerfile, stages: result };
}

/** JSON (exec) form arguments of CMD/ENTRYPOINT/HEALTHCHECK …, or undefined for the shell form. */
const execForm = (instruction: Instruction) => {
  const text = instruction.getArgumentsContent() ?? '';
  const json = text.slice(text.indexOf('['));
  try {
    const parsed: unknown = JSON.parse(json);
    return Array.isArray(parsed) ? (parsed as string[]) : undefined;
  } catch {
    return undefined;
  }
};

const ignored = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#') && !l.startsWith('!'));

describe.each(['Dockerfile', 'docker/pgbouncer/Dockerfile'])('%s', (file) => {
  const { dockerfile, stages: all } = stages(file);
  const context = file === 'Dockerfile' ? '.' : 'docker/pgbouncer';

  it('parses into known instructions, every stage on a named image', () => {
    expect(all.length).toBeGreaterThan(0);
    for (const instruction of dockerfile.getInstructions()) expect(KEYWORDS).toContain(instruction.getKeyword());
    for (const stage of all) expect(stage.image).not.toBe('');
  });

  it('copies only files that exist in the build context (or come from an earlier stage)', () => {
    const names = new Set(all.map((s) => s.name));
    for (const copy of dockerfile.getCOPYs()) {
      const from = copy.getFromFlag()?.getValue();
      const args = copy.getArguments().map((a) => a.getValue()).filter((v) => !v.startsWith('--'));
      const sources = args.slice(0, -1);
      expect(sources.length).toBeGreaterThan(0);
      if (from) {
        expect(names).toContain(from);
        continue;
      }
      for (const source of sources) {
        expect(existsSync(join(context, source)), `${file}: COPY ${source}`).toBe(true);
        if (context === '.') expect(ignored, `.dockerignore leaves out ${source}`).not.toContain(source.replace(/^\.\//, ''));
      }
    }
  });
});

describe('the API image', () => {
  const { dockerfile, stages: all } = stages('Dockerfile');
  const runtime = all.at(-1)!;
  const last = (keyword: string) => runtime.instructions.filter((i) => i.getKeyword() === keyword).at(-1);

  it('builds in one stage and runs from a later one with production dependencies only', () => {
    expect(all.length).toBeGreaterThanOrEqual(2);
    const runs = (stage: (typeof all)[number]) => stage.instructions.filter((i) => i.getKeyword() === 'RUN').map((i) => i.getArgumentsContent());
    expect(runs(all[0]!).join('\n')).toMatch(/npm ci\b/);
    expect(runs(all[0]!).join('\n')).toMatch(/npm run build/);
    expect(runs(runtime).join('\n')).toMatch(/npm ci --omit=dev/);
    expect(last('USER')?.getArgumentsContent()).toBe('node');
  });

  it('is based on a Node line that CI tests and package.json supports', () => {
    const base = dockerfile.getARGs().find((a) => a.getProperty()?.getName() === 'NODE_IMAGE')?.getProperty()?.getValue() ?? undefined;
    const major = /^node:(\d+)-slim$/.exec(base ?? '')?.[1];
    expect(major, base).toBeDefined();
    expect(packageJson.engines.node).toContain(`^${major}.0.0`);
    expect(read('.ci/node')).toContain('NODE_IMAGE');
    expect(read('.ci/run')).toContain('.ci/node image');
  });

  it('runs node itself in exec form (the command npm start names, without npm, which would not pass SIGTERM on)', () => {
    const cmd = execForm(last('CMD')!);
    expect(cmd).toEqual(packageJson.scripts.start!.split(' '));
    expect(runtime.instructions.some((i) => i.getKeyword() === 'ENTRYPOINT')).toBe(false);
  });

  it('exposes the default PORT and checks its health on /healthz with node (no curl in slim images)', () => {
    const port = String(loadConfig({ NODE_ENV: 'test' }).http.port);
    expect(last('EXPOSE')?.getArgumentsContent()).toBe(port);
    const check = last('HEALTHCHECK')!;
    expect(check.getArgumentsContent()).toMatch(/CMD \[/);
    const command = execForm(check);
    expect(command?.[0]).toBe('node');
    expect(command?.join(' ')).toContain(`(process.env.PORT || ${port}) + '/healthz'`);
  });

  it('offers migrate as a command of its own, from the compiled build', () => {
    expect(runtime.instructions.map((i) => i.getArgumentsContent()).join('\n')).toContain('ln -s /app/dist/src/cli/migrate.js /usr/local/bin/migrate');
    expect(packageJson.scripts.migrate).toBe('node dist/src/cli/migrate.js');
    expect(read('src/cli/migrate.ts').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });
});

describe('.dockerignore', () => {
  it('keeps local data, secrets, dependencies and build output out of the build context', () => {
    for (const entry of ['.data', '.env', 'node_modules', 'dist']) expect(ignored).toContain(entry);
  });
});

describe('compose.yaml', () => {
  // A project directory as an operator has it: compose.yaml and a .env made from .env.example.
  const project = (dotEnv: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-compose-'));
    cpSync('compose.yaml', join(dir, 'compose.yaml'));
    symlinkSync(join(process.cwd(), 'docker'), join(dir, 'docker'));
    writeFileSync(join(dir, '.env'), dotEnv);
    return dir;
  };
  const exampleWith = (extra: string) => `${read('.env.example')}\n${extra}\n`;
  const config = async (dotEnv: string, args: string[] = []) => {
    const dir = project(dotEnv);
    try {
      return await run('docker-compose', ['-f', 'compose.yaml', ...args, 'config'], { cwd: dir, env: { PATH: process.env.PATH } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const key = `SECRET_KEY=${'k'.repeat(32)}`;
  const service = (stdout: string, name: string) => (parse(stdout) as { services: Record<string, Record<string, unknown>> }).services[name]!;

  it('is a valid compose file (docker-compose config)', async () => {
    await expect(config(exampleWith(key), ['--profile', 'pgbouncer'])).resolves.toBeDefined();
  });

  it('refuses to start without SECRET_KEY, and says so', async () => {
    await expect(config(read('.env.example'))).rejects.toMatchObject({ stderr: expect.stringContaining('set SECRET_KEY in .env') });
  });

  it('starts the API after PostgreSQL is healthy and the migrations have finished', async () => {
    const { stdout } = await config(exampleWith(key));
    expect(stdout).toMatch(/api:[\s\S]*depends_on:\s+db:\s+condition: service_healthy\s+migrate:\s+condition: service_completed_successfully/);
    expect(stdout).toMatch(/migrate:[\s\S]*command:\s+- migrate/);
    expect(stdout).toMatch(/pgdata:/);
  });

  it('passes every setting of .env to the API and the migrations, and fixes only what the containers need', async () => {
    const { stdout } = await config(exampleWith(`${key}\nADMIN_EMAIL=root@example.com\nADMIN_PASSWORD=a-long-admin-passphrase\nLOG_LEVEL=debug`));
    for (const name of ['api', 'migrate']) {
      const environment = service(stdout, name).environment as Record<string, string>;
      expect(configVariables.filter((variable) => !(variable in environment)), name).toEqual([]);
      expect(environment).toMatchObject({ NODE_ENV: 'production', ADMIN_EMAIL: 'root@example.com', LOG_LEVEL: 'debug', PORT: '8000' });
      expect(environment.DATABASE_URL).toMatch(/@db:5432\/tasks$/);
    }
  });

  it("runs two workers unless .env names a number: .env.example's empty WEB_CONCURRENCY does not override it", async () => {
    const workers = async (dotEnv: string) => (service((await config(dotEnv)).stdout, 'api').environment as Record<string, string>).WEB_CONCURRENCY;
    expect(await workers(exampleWith(key))).toBe('2');
    expect(await workers(exampleWith(`${key}\nWEB_CONCURRENCY=3`))).toBe('3');
  });

  it("gives the API longer to stop than the server's drain and grace take", async () => {
    const grace = String(service((await config(exampleWith(key))).stdout, 'api').stop_grace_period);
    const seconds = Number(/^(\d+)s$/.exec(grace)?.[1]);
    const { drainSeconds, graceSeconds } = loadConfig({ NODE_ENV: 'test' }).shutdown;
    expect(seconds).toBeGreaterThan(drainSeconds + graceSeconds);
  });

  it('stops PgBouncer with SIGINT, its safe stop, and checks its health with a client its image has', async () => {
    const pgbouncer = service((await config(exampleWith(key), ['--profile', 'pgbouncer'])).stdout, 'pgbouncer');
    expect(pgbouncer.stop_signal).toBe('SIGINT');
    expect((pgbouncer.healthcheck as { test: string[] }).test).toContain('pg_isready');
    expect(read('docker/pgbouncer/Dockerfile')).toMatch(/apt-get install[^\n]* postgresql-client/);
    expect(read('docker/pgbouncer/Dockerfile')).toMatch(/^STOPSIGNAL SIGINT$/m);
  });

  it('runs Mailpit (--profile mail) with its web UI on the host’s loopback only, and hands the API the SMTP settings from .env', async () => {
    const { stdout } = await config(exampleWith(`${key}\nSMTP_URL=smtp://mailpit:1025\nMAIL_FROM=Tasks <no-reply@localhost>`), ['--profile', 'mail']);
    expect(service(stdout, 'mailpit').image).toMatch(/^axllent\/mailpit:v[\d.]+$/);
    expect(stdout).toMatch(/127\.0\.0\.1:8025:8025/);
    expect(service(stdout, 'api').environment).toMatchObject({ SMTP_URL: 'smtp://mailpit:1025', MAIL_FROM: 'Tasks <no-reply@localhost>' });
  });

  it('starts Mailpit only with the mail profile', async () => {
    expect(service((await config(exampleWith(key))).stdout, 'mailpit')).toMatchObject({ profiles: ['mail'] });
  });
});

describe('.env.example', () => {
  const entries = new Map(
    read('.env.example')
      .split('\n')
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const),
  );

  it('lists every variable the configuration reads', () => {
    expect(configVariables.filter((name) => !entries.has(name))).toEqual([]);
  });

  it('gives each one its default: loading the file changes nothing', () => {
    const set = Object.fromEntries([...entries].filter(([, value]) => value !== ''));
    const key = { SECRET_KEY: 'k'.repeat(32) };
    expect(loadConfig({ ...set, ...key })).toEqual(loadConfig(key));
  });
});
