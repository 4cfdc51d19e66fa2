/** The API group every schemaops resource, label, annotation and finalizer lives under. */
export const GROUP = 'schemaops.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'SchemaMigration';
export const LIST_KIND = 'SchemaMigrationList';
export const PLURAL = 'schemamigrations';
export const SINGULAR = 'schemamigration';
export const SHORT_NAME = 'smig';
/** `kubectl get schemaops` lists every schemaops resource. */
export const CATEGORY = 'schemaops';
