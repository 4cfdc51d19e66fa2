import type { PluginClient } from './kube.js';
import type { OutputFormat } from './view.js';

/** What every command gets: the client for the chosen cluster and namespace, and where to print. */
export interface Session {
  readonly client: PluginClient;
  /** Prints on stdout (the command's result). */
  out(text: string): void;
  /** Prints on stderr (progress, warnings, questions). */
  err(text: string): void;
  readonly verbose: boolean;
}

/** The options of a command that prints data: `-o json|yaml`, else a human view. */
export interface OutputOptions {
  readonly output?: OutputFormat;
}

/** Options of the commands that change something. */
export interface ConfirmOptions {
  readonly yes?: boolean;
}
