import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, createWriteStream, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where scripts/build-kube.sh links the control plane it built (also on the PATH scripts/setup.sh prints). */
const toolsBin = fileURLToPath(new URL('../../node_modules/.cache/schemaops-tools/bin', import.meta.url));

/** Finds a control-plane binary: $SCHEMAOPS_KUBE_BIN, then PATH, then where scripts/build-kube.sh links it. */
export function findBinary(name: string): string {
  const dirs = [
    process.env.SCHEMAOPS_KUBE_BIN,
    ...(process.env.PATH ?? '').split(delimiter),
    toolsBin,
  ].filter((d): d is string => d !== undefined && d !== '');
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(
    `${name} not found on PATH or in ${toolsBin}: run \`bash scripts/setup.sh\`, which builds ` +
      'kube-apiserver, kube-controller-manager, kube-scheduler and etcd from hack/kube once per machine',
  );
}

/**
 * The watchdog each component runs under: it ends with the component, and stops the component when its own
 * stdin closes (we closed it, or this process died however it died), so nothing outlives us.
 */
const WATCHDOG =
  'exec 3<&0; "$@" </dev/null 3<&- & c=$!; (cat <&3 >/dev/null; kill -TERM "$c" 2>/dev/null) & exec 3<&-; wait "$c"';

/** One running control-plane component, its output going to a log file. */
export class ComponentProcess {
  private readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;
  readonly name: string;
  readonly logFile: string;

  constructor(name: string, binary: string, args: readonly string[], logFile: string) {
    this.name = name;
    this.logFile = logFile;
    const log = createWriteStream(logFile, { flags: 'a' });
    this.child = spawn('sh', ['-c', WATCHDOG, name, binary, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, GODEBUG: process.env.GODEBUG ?? '' },
    });
    this.child.stdout?.pipe(log);
    this.child.stderr?.pipe(log);
    this.child.stdin?.on('error', () => undefined);
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code) => {
        this.exitCode = code;
        this.kill(); // the watchdog's reader, and anything else left in the group
        resolve(code);
      }),
    );
  }

  /** Whether the component has exited (a crash shows here before a readiness timeout would). */
  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Stops the component: SIGTERM through the watchdog, SIGKILL to the whole group after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.child.stdin?.end();
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.exited;
    clearTimeout(timer);
    this.kill(); // anything the component left in its process group
  }

  /** SIGKILL to the component and its watchdog at once: a crash, as tests inject it. */
  kill(): void {
    if (this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  async waitExit(): Promise<number | null> {
    return this.exited;
  }
}

/** The last lines of a component's log, for an error message that says why it did not come up. */
export async function logTail(path: string, lines = 15): Promise<string> {
  if (!existsSync(path)) return '';
  const { readFile } = await import('node:fs/promises');
  return (await readFile(path, 'utf8')).split('\n').slice(-lines).join('\n');
}
