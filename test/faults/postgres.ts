import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { findPostgresBinDir, startPostgres, type PostgresServer } from '../../src/localcluster/postgres.js';
import { waitFor } from '../support/wait.js';

/** A private PostgreSQL server that a test can restart under a running migration. */
export interface RestartablePostgres {
  readonly server: PostgresServer;
  /** Fast shutdown (sessions terminated, transactions rolled back), down for `downMs`, then up on the same port. */
  restart(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

function postmasterPid(dataDir: string): number {
  return Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

function serverUser(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const passwd = execFileSync('getent', ['passwd', 'postgres'], { encoding: 'utf8' }).split(':');
  return { uid: Number(passwd[2]), gid: Number(passwd[3]) };
}

export async function startRestartablePostgres(): Promise<RestartablePostgres> {
  const server = await startPostgres();
  let restarted: ChildProcess | undefined;
  const shutDown = async () => {
    const pid = postmasterPid(server.dataDir);
    process.kill(pid, 'SIGINT');
    await waitFor(() => !alive(pid), { timeoutMs: 15_000, what: 'postgres to shut down' });
  };
  return {
    server,
    async restart(downMs) {
      await shutDown();
      await new Promise((r) => setTimeout(r, downMs));
      const base = dirname(server.dataDir);
      // The same command line startPostgres uses, on the same data directory and port.
      restarted = spawn(
        join(findPostgresBinDir(), 'postgres'),
        ['-D', server.dataDir, '-p', String(server.port), '-h', server.host, '-k', base, '-c', 'fsync=off'],
        { ...serverUser(), cwd: base, stdio: 'ignore' },
      );
      const pg = await import('pg');
      await waitFor(
        async () => {
          const client = new pg.default.Client({ connectionString: server.url() });
          try {
            await client.connect();
            return true;
          } finally {
            await client.end().catch(() => undefined);
          }
        },
        { timeoutMs: 30_000, intervalMs: 100, what: 'postgres to be back' },
      );
    },
    async stop() {
      if (restarted && restarted.exitCode === null) await shutDown();
      await server.stop();
    },
  };
}
