import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import pg from 'pg';
import { query, testPostgres } from '../support/db.js';
import { waitFor } from '../support/wait.js';

const run = promisify(execFile);

/** The forms a database password can take wherever it leaks: as typed, and %-encoded in a URL. */
export function secretForms(password: string, url: string): string[] {
  return [password, encodeURIComponent(password), url];
}

/** A login role with this password that owns the database at `url`; returns the URL that logs in as it. */
export async function roleWithPassword(url: string, role: string, password: string): Promise<string> {
  const admin = testPostgres().adminUrl;
  const database = new URL(url).pathname.slice(1);
  await query(admin, `CREATE ROLE ${role} LOGIN PASSWORD '${password.replace(/'/g, "''")}'`);
  await query(admin, `ALTER DATABASE "${database}" OWNER TO ${role}`);
  const roleUrl = new URL(url);
  roleUrl.username = role;
  roleUrl.password = encodeURIComponent(password);
  return roleUrl.toString();
}

/** The argv of every process on the machine, as `ps` shows it to any user. */
export async function processArgs(): Promise<string[]> {
  const { stdout } = await run('ps', ['-eo', 'pid=,args='], { maxBuffer: 64 * 1024 * 1024 });
  return stdout.split('\n').filter((line) => line.trim() !== '');
}

/** `ps -eo args` in a tight loop until stopped: every distinct command line seen meanwhile. */
export function sampleProcessArgs(): { seen: Set<string>; stop(): Promise<number> } {
  const seen = new Set<string>();
  let running = true;
  let samples = 0;
  const loop = (async () => {
    while (running) {
      for (const line of await processArgs()) seen.add(line.replace(/^\s*\d+\s+/, ''));
      samples++;
    }
  })();
  return {
    seen,
    stop: async () => {
      running = false;
      await loop;
      return samples;
    },
  };
}

/** The pids of running pg_dump processes, with their argv and environment from /proc. */
export function pgDumpProcesses(): { pid: string; cmdline: string; environ: string }[] {
  const found = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (!/(^|\/)pg_dump /.test(cmdline)) continue;
      found.push({
        pid,
        cmdline,
        environ: readFileSync(`/proc/${pid}/environ`, 'utf8').replace(/\0/g, '\n'),
      });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/**
 * Holds an ACCESS EXCLUSIVE lock on a table, so a pg_dump of its database waits for it, visibly and for as
 * long as the test needs: a deterministic window in which the real pg_dump process can be looked at.
 */
export async function lockTable(url: string, table: string): Promise<{ release(): Promise<void> }> {
  const asAdmin = new URL(testPostgres().adminUrl);
  asAdmin.pathname = new URL(url).pathname;
  const client = new pg.Client({ connectionString: asAdmin.toString() });
  await client.connect();
  await client.query('BEGIN');
  await client.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
  return {
    release: async () => {
      await client.query('COMMIT');
      await client.end();
    },
  };
}

/** Waits until a session of that application waits on a lock in the database: pg_dump, blocked by lockTable. */
export async function waitForBlockedSession(
  url: string,
  applicationName: string,
  timeoutMs: number,
): Promise<void> {
  const database = new URL(url).pathname.slice(1);
  await waitFor(
    async () => {
      const rows = await query(
        testPostgres().adminUrl,
        `SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name = $2 AND wait_event_type = 'Lock'`,
        [database, applicationName],
      );
      return rows.length > 0;
    },
    { timeoutMs, what: `${applicationName} to wait on the lock` },
  );
}
