#!/usr/bin/env node
// The `kubectl-schemaops` command (`kubectl schemaops …`). This file only checks the Node.js version and then
// loads the plugin: it must run on any Node.js, so that an older one says what it needs instead of failing
// inside a dependency that needs Node 24.
const REQUIRED_MAJOR = 24;

const major = Number(process.versions.node.split('.')[0]);
if (major < REQUIRED_MAJOR) {
  process.stderr.write(
    `kubectl-schemaops needs Node.js ${REQUIRED_MAJOR} or newer; this is ${process.version}\n`,
  );
  process.exitCode = 1;
} else {
  const { runPlugin } = await import('./program.js');
  await runPlugin(process.argv);
}
