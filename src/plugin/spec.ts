import type { V1LabelSelector } from '@kubernetes/client-node';
import type { StoredSchemaMigration } from '../kube/types.js';

/** The parts of a SchemaMigration's spec the plugin reads; as stored, so every field may be missing. */
export interface PluginSpec {
  readonly targetRevision?: string;
  readonly migrations?: {
    readonly configMaps?: readonly { readonly name: string }[];
    readonly selector?: V1LabelSelector;
  };
  readonly policy?: { readonly allowDataLoss?: boolean };
}

export function specOf(object: StoredSchemaMigration): PluginSpec {
  return typeof object.spec === 'object' && object.spec !== null ? object.spec : {};
}
