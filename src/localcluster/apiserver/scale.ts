import { badRequest, invalid } from './errors.js';
import { readDotted, writeDotted } from './jsonpath.js';
import type { ResourceType } from './resources.js';
import { labelSelectorToString } from './selectors.js';
import { isRecord, type KubeObject } from './types.js';

/** The autoscaling/v1 Scale of an object, read through its scale paths (0 or "" when absent). */
export function toScale(type: ResourceType, object: KubeObject): KubeObject {
  const paths = type.scale ?? { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas' };
  const specReplicas = readDotted(object, paths.specReplicasPath);
  const statusReplicas = readDotted(object, paths.statusReplicasPath);
  let selector: string;
  if (type.custom) {
    const raw = paths.labelSelectorPath ? readDotted(object, paths.labelSelectorPath) : undefined;
    selector = typeof raw === 'string' ? raw : '';
  } else {
    selector = labelSelectorToString(isRecord(object.spec) ? object.spec.selector : undefined);
  }
  const spec: Record<string, unknown> = {};
  if (typeof specReplicas === 'number' && specReplicas !== 0) spec.replicas = specReplicas;
  const status: Record<string, unknown> = {
    replicas: typeof statusReplicas === 'number' ? statusReplicas : 0,
  };
  if (selector !== '') status.selector = selector;
  const meta = object.metadata;
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: meta.name,
      namespace: meta.namespace,
      uid: meta.uid,
      resourceVersion: meta.resourceVersion,
      creationTimestamp: meta.creationTimestamp,
    },
    spec,
    status,
  };
}

/** The object with the replicas of a written Scale; the Scale's resourceVersion is a precondition. */
export function applyScale(type: ResourceType, object: KubeObject, scale: unknown): KubeObject {
  if (!isRecord(scale))
    throw badRequest('Scale in version "v1" cannot be handled as a Scale: the body is not a JSON object');
  const spec = isRecord(scale.spec) ? scale.spec : {};
  const replicas = spec.replicas ?? 0;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
    throw invalid('autoscaling', 'Scale', object.metadata.name ?? '', [
      {
        type: 'Invalid',
        field: 'spec.replicas',
        value: replicas,
        detail: 'must be greater than or equal to 0',
      },
    ]);
  }
  const next = structuredClone(object);
  writeDotted(next, type.scale?.specReplicasPath ?? '.spec.replicas', replicas);
  const meta = isRecord(scale.metadata) ? scale.metadata : {};
  next.metadata.resourceVersion =
    typeof meta.resourceVersion === 'string' && meta.resourceVersion !== ''
      ? meta.resourceVersion
      : object.metadata.resourceVersion;
  return next;
}
