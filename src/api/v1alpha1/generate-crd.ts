import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CRD_PATH, renderCrd } from './crd.js';

// The kustomize base keeps its own copy: kustomize refuses files outside its directory.
for (const path of [CRD_PATH, `config/crd/bases/${CRD_PATH.slice('crds/'.length)}`]) {
  writeFileSync(fileURLToPath(new URL(`../../../${path}`, import.meta.url)), renderCrd());
  console.log(`wrote ${path}`);
}
console.log('the chart keeps a guarded copy: regenerate it with UPDATE_CHART_CRD=1 npm test -- test/chart');
