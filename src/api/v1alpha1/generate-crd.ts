import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CRD_PATH, renderCrd } from './crd.js';

const target = fileURLToPath(new URL(`../../../${CRD_PATH}`, import.meta.url));
writeFileSync(target, renderCrd());
console.log(`wrote ${CRD_PATH}`);
