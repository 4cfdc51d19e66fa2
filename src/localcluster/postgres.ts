import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly dataDir: string;
  /** A connection URL for one database of this server. */
  url(database?: string): string;
  /** Creates a new empty database and returns its URL. */
  createDatabase(prefix?: string): Promise<string>;
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  port?: number;
  /** Parent directory for the server's data; a fresh temporary one when omitted. */
  baseDir?: string;
  password?: string;
  /** Serve TLS with this certificate and key (PEM files; copied into the data directory for the server user). */
  ssl?: { readonly certFile: string; readonly keyFile: string };
}

/** Finds Debian's server binaries (initdb, postgres), which are not on PATH. */
export function findPostgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const major = majors[0];
  if (major === undefined) {
    throw new Error(
      `no PostgreSQL server found under ${root}: install postgresql-15 (apt-get install postgresql-15)`,
    );
  }
  return join(root, major, 'bin');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not find a free port'));
      });
    });
  });
}

const isRoot = process.getuid?.() === 0;

/** Server binaries run as the `postgres` user when we are root: PostgreSQL refuses to run as root. */
function serverUserOptions(): { uid?: number; gid?: number } {
  return isRoot ? postgresIds() : {};
}

function giveToServerUser(path: string): void {
  if (!isRoot) return;
  const { uid, gid } = postgresIds();
  chownSync(path, uid, gid);
}

let ids: { uid: number; gid: number } | undefined;
function postgresIds(): { uid: number; gid: number } {
  if (ids) return ids;
  const passwd = execFileSync('getent', ['passwd', 'postgres'], { encoding: 'utf8' }).split(':');
  ids = { uid: Number(passwd[2]), gid: Number(passwd[3]) };
  return ids;
}

async function waitForReady(url: string, server: ChildProcess, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (server.exitCode !== null)
      throw new Error(`postgres exited with code ${server.exitCode} during start-up`);
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.end();
      return;
    } catch (err) {
      lastError = err;
      await client.end().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`postgres did not accept connections within ${deadlineMs} ms: ${String(lastError)}`);
}

/** Starts a throwaway PostgreSQL server on a loopback port, in its own temporary directory. */
/** The certificate and key where the server user can read them (the key 0600, as PostgreSQL demands). */
function serverTls(base: string, tls: { certFile: string; keyFile: string }): string[] {
  const cert = join(base, 'server.crt');
  const key = join(base, 'server.key');
  copyFileSync(tls.certFile, cert);
  copyFileSync(tls.keyFile, key);
  chmodSync(key, 0o600);
  giveToServerUser(cert);
  giveToServerUser(key);
  return ['-c', 'ssl=on', '-c', `ssl_cert_file=${cert}`, '-c', `ssl_key_file=${key}`];
}

export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  const bin = findPostgresBinDir();
  const base = mkdtempSync(join(options.baseDir ?? tmpdir(), 'schemaops-pg-'));
  giveToServerUser(base);
  const dataDir = join(base, 'data');
  const user = 'postgres';
  const password = options.password ?? `pw-${Math.random().toString(36).slice(2, 12)}`;
  const pwFile = join(base, 'pwfile');
  writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  giveToServerUser(pwFile);
  await run(
    join(bin, 'initdb'),
    [
      '-D',
      dataDir,
      '-U',
      user,
      '--pwfile',
      pwFile,
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      '--encoding=UTF8',
      '--locale=C',
      '--no-sync',
    ],
    { ...serverUserOptions(), cwd: base },
  );
  rmSync(pwFile);
  const port = options.port ?? (await freePort());
  const ssl = options.ssl ? serverTls(base, options.ssl) : [];
  const server = spawn(
    join(bin, 'postgres'),
    [
      '-D',
      dataDir,
      '-p',
      String(port),
      '-h',
      '127.0.0.1',
      '-k',
      base,
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=200',
      ...ssl,
    ],
    { ...serverUserOptions(), cwd: base, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  server.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const host = '127.0.0.1';
  const url = (database = 'postgres'): string =>
    `postgres://${user}:${encodeURIComponent(password)}@${host}:${port}/${database}`;
  try {
    await waitForReady(url(), server, 30_000);
  } catch (err) {
    server.kill('SIGKILL');
    throw new Error(`${String(err)}\n${stderr}`, { cause: err });
  }
  return {
    host,
    port,
    user,
    password,
    dataDir,
    url,
    createDatabase: (prefix) => createDatabase(url(), prefix),
    async stop() {
      if (server.exitCode === null) {
        const exited = new Promise((resolve) => server.once('exit', resolve));
        server.kill('SIGINT'); // fast shutdown
        const deadline = setTimeout(() => server.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(deadline);
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
}

let databaseCounter = 0;

/** Creates a new empty database on the server behind adminUrl and returns the new database's URL. */
export async function createDatabase(adminUrl: string, prefix = 'test'): Promise<string> {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${databaseCounter++}`
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_');
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
