import { createInterface } from 'node:readline/promises';
import { PluginError } from './errors.js';

/**
 * Asks on the terminal before a change; `--yes` answers for the user. Without a terminal and without `--yes`
 * nothing is changed: a script must say yes explicitly.
 */
export async function confirm(question: string, options: { yes: boolean }): Promise<void> {
  if (options.yes) return;
  if (!process.stdin.isTTY)
    throw new PluginError(
      'not confirmed (stdin is not a terminal); pass --yes to confirm: nothing was changed',
    );
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await rl.question(`${question} [y/N] `)).trim().toLowerCase();
    if (answer !== 'y' && answer !== 'yes') throw new PluginError('not confirmed: nothing was changed');
  } finally {
    rl.close();
  }
}
