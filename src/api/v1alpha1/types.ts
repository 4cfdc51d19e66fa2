import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { SchemaMigrationSpec } from './spec.js';
import type { SchemaMigrationStatus } from './status.js';

/** A SchemaMigration as read from the API server, its spec already validated. */
export interface SchemaMigration {
  apiVersion: string;
  kind: string;
  metadata: V1ObjectMeta;
  spec: SchemaMigrationSpec;
  status?: SchemaMigrationStatus;
}
