import { describe, expect, it } from '@jest/globals';
import { prune } from '../../src/localcluster/apiserver/schema.js';
import { rewritePaths } from '../../src/localcluster/controllers/jobprocess.js';

describe('rewritePaths', () => {
  it('maps each mount to its local directory once, even when a local directory starts with another mount', () => {
    const mappings = [
      { mountPath: '/tmp', localPath: '/tmp/cluster/pods/p1/tmp' },
      { mountPath: '/backups', localPath: '/tmp/cluster/pvcs/shop/backups' },
    ];
    expect(rewritePaths('BACKUP_DIR=/backups/x.dump TMP=/tmp/a /backupsX /data/tmp', mappings)).toBe(
      'BACKUP_DIR=/tmp/cluster/pvcs/shop/backups/x.dump TMP=/tmp/cluster/pods/p1/tmp/a /backupsX /data/tmp',
    );
  });
});

describe('prune', () => {
  it('leaves metadata to the server even when the CRD schema declares it as a bare object', () => {
    const object = {
      apiVersion: 'example.com/v1',
      kind: 'Widget',
      metadata: { name: 'w', labels: { app: 'shop' }, annotations: { note: 'kept' } },
      spec: { size: 1, stray: true },
    };
    const unknown: string[] = [];
    prune(
      object,
      {
        type: 'object',
        properties: {
          metadata: { type: 'object' },
          spec: { type: 'object', properties: { size: { type: 'integer' } } },
        },
      },
      '',
      unknown,
    );
    expect(object.metadata).toEqual({ name: 'w', labels: { app: 'shop' }, annotations: { note: 'kept' } });
    expect(object.spec).toEqual({ size: 1 });
    expect(unknown).toEqual(['spec.stray']);
  });
});
