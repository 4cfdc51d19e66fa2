import { badRequest, type FieldError } from './errors.js';
import { labelSelectorToString, matchesLabels, parseLabelSelector } from './selectors.js';
import { isRecord, type KubeObject } from './types.js';

/** Defaulting and validation a real server applies to one built-in kind. */
export interface BuiltinHooks {
  /** Runs on create only: server-set fields and initial status. */
  prepareCreate?(object: KubeObject): void;
  /** Runs on every write of the main resource. */
  normalize?(object: KubeObject): void;
  /** Decoding problems, answered with 400 as a real server's decoder does. */
  decode?(object: KubeObject): void;
  validate?(object: KubeObject, old?: KubeObject): FieldError[];
}

const microTimePattern = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$/;

function checkMicroTime(kind: string, value: unknown): void {
  if (value === undefined || value === null) return;
  if (typeof value !== 'string' || !microTimePattern.test(value)) {
    const fraction =
      typeof value === 'string'
        ? (/(\.\d*)?(Z|[+-]\d\d:\d\d)$/.exec(value)?.[0] ?? value)
        : JSON.stringify(value);
    throw badRequest(
      `${kind} in version "v1" cannot be handled as a ${kind}: parsing time ${JSON.stringify(value)} as "2006-01-02T15:04:05.000000Z07:00": cannot parse "${fraction}" as ".000000"`,
    );
  }
}

function record(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}

function ensureRecord(parent: Record<string, unknown>, key: string): Record<string, unknown> {
  if (!isRecord(parent[key])) parent[key] = {};
  return parent[key] as Record<string, unknown>;
}

function defaultContainer(container: Record<string, unknown>): void {
  container.terminationMessagePath ??= '/dev/termination-log';
  container.terminationMessagePolicy ??= 'File';
  container.resources ??= {};
  const image = typeof container.image === 'string' ? container.image : '';
  container.imagePullPolicy ??= image.endsWith(':latest') || !image.includes(':') ? 'Always' : 'IfNotPresent';
}

function defaultPodSpec(spec: Record<string, unknown>, restartPolicy: string): void {
  spec.restartPolicy ??= restartPolicy;
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.schedulerName ??= 'default-scheduler';
  spec.securityContext ??= {};
  const containers = Array.isArray(spec.containers) ? (spec.containers as unknown[]) : [];
  for (const container of containers) if (isRecord(container)) defaultContainer(container);
}

function validatePodSpec(spec: unknown, path: string): FieldError[] {
  const containers = record(spec).containers;
  if (!Array.isArray(containers) || containers.length === 0) {
    return [{ type: 'Required', field: `${path}.containers` }];
  }
  const errors: FieldError[] = [];
  containers.forEach((c, i) => {
    if (!isRecord(c) || typeof c.name !== 'string' || c.name === '')
      errors.push({ type: 'Required', field: `${path}.containers[${i}].name` });
    if (!isRecord(c) || typeof c.image !== 'string' || c.image === '')
      errors.push({ type: 'Required', field: `${path}.containers[${i}].image` });
  });
  return errors;
}

function validateSelectorMatchesTemplate(object: KubeObject): FieldError[] {
  const spec = record(object.spec);
  if (!isRecord(spec.selector)) return [{ type: 'Required', field: 'spec.selector' }];
  const labels = record(record(record(spec.template).metadata).labels) as Record<string, string>;
  const selector = parseLabelSelector(labelSelectorToString(spec.selector));
  const errors: FieldError[] = [];
  if (selector.length === 0 || !matchesLabels(labels, selector)) {
    errors.push({
      type: 'Invalid',
      field: 'spec.template.metadata.labels',
      value: labels,
      detail: '`selector` does not match template `labels`',
    });
  }
  if (typeof spec.replicas === 'number' && spec.replicas < 0) {
    errors.push({
      type: 'Invalid',
      field: 'spec.replicas',
      value: spec.replicas,
      detail: 'must be greater than or equal to 0',
    });
  }
  return errors.concat(validatePodSpec(record(spec.template).spec, 'spec.template.spec'));
}

const workloadHooks: BuiltinHooks = {
  prepareCreate(object) {
    delete object.status;
  },
  normalize(object) {
    const spec = ensureRecord(object, 'spec');
    spec.replicas ??= 1;
    spec.revisionHistoryLimit ??= 10;
    defaultPodSpec(ensureRecord(ensureRecord(spec, 'template'), 'spec'), 'Always');
  },
  validate: validateSelectorMatchesTemplate,
};

function base64Encode(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

const secretHooks: BuiltinHooks = {
  normalize(object) {
    object.type ??= 'Opaque';
    if (isRecord(object.stringData)) {
      const data = ensureRecord(object, 'data');
      for (const [key, value] of Object.entries(object.stringData)) data[key] = base64Encode(String(value));
    }
    delete object.stringData;
  },
  decode(object) {
    for (const [key, value] of Object.entries(record(object.data))) {
      if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
        throw badRequest(
          `Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 0 (key ${key})`,
        );
      }
    }
  },
};

function jobNormalize(object: KubeObject): void {
  const spec = ensureRecord(object, 'spec');
  spec.parallelism ??= 1;
  spec.completions ??= 1;
  spec.backoffLimit ??= 6;
  spec.completionMode ??= 'NonIndexed';
  spec.suspend ??= false;
  spec.podReplacementPolicy ??= 'TerminatingOrFailed';
  defaultPodSpec(ensureRecord(ensureRecord(spec, 'template'), 'spec'), 'Never');
}

function jobPrepareCreate(object: KubeObject): void {
  delete object.status;
  const uid = object.metadata.uid ?? '';
  const name = object.metadata.name ?? '';
  const spec = ensureRecord(object, 'spec');
  const generated = { 'batch.kubernetes.io/controller-uid': uid };
  spec.selector ??= { matchLabels: generated };
  const meta = ensureRecord(ensureRecord(spec, 'template'), 'metadata');
  meta.labels = {
    ...record(meta.labels),
    'batch.kubernetes.io/controller-uid': uid,
    'batch.kubernetes.io/job-name': name,
    'controller-uid': uid,
    'job-name': name,
  };
}

function jobValidate(object: KubeObject): FieldError[] {
  const template = record(record(object.spec).template);
  const restartPolicy = record(template.spec).restartPolicy;
  const errors = validatePodSpec(template.spec, 'spec.template.spec');
  if (restartPolicy !== 'Never' && restartPolicy !== 'OnFailure') {
    errors.push({
      type: 'NotSupported',
      field: 'spec.template.spec.restartPolicy',
      value: restartPolicy,
      detail: 'supported values: "OnFailure", "Never"',
    });
  }
  const backoffLimit = record(object.spec).backoffLimit;
  if (typeof backoffLimit === 'number' && backoffLimit < 0) {
    errors.push({
      type: 'Invalid',
      field: 'spec.backoffLimit',
      value: backoffLimit,
      detail: 'must be greater than or equal to 0',
    });
  }
  return errors;
}

function checkRequiredLength(object: KubeObject, field: string, max: number, errors: FieldError[]): void {
  const value = object[field];
  if (typeof value !== 'string' || value === '') errors.push({ type: 'Required', field });
  else if (value.length > max)
    errors.push({ type: 'TooLong', field, detail: `may not be more than ${max} bytes` });
}

function eventsV1Validate(object: KubeObject): FieldError[] {
  const errors: FieldError[] = [];
  if (object.eventTime === undefined || object.eventTime === null)
    errors.push({ type: 'Required', field: 'eventTime' });
  if (object.type !== 'Normal' && object.type !== 'Warning') {
    errors.push({
      type: 'NotSupported',
      field: 'type',
      value: object.type ?? '',
      detail: 'supported values: "Normal", "Warning"',
    });
  }
  checkRequiredLength(object, 'reportingController', 253, errors);
  checkRequiredLength(object, 'reportingInstance', 128, errors);
  checkRequiredLength(object, 'action', 128, errors);
  checkRequiredLength(object, 'reason', 128, errors);
  if (typeof object.note === 'string' && object.note.length > 1024) {
    errors.push({ type: 'TooLong', field: 'note', detail: 'may not be more than 1024 bytes' });
  }
  for (const field of [
    'deprecatedSource',
    'deprecatedFirstTimestamp',
    'deprecatedLastTimestamp',
    'deprecatedCount',
  ]) {
    const value = object[field];
    if (
      value !== undefined &&
      value !== null &&
      value !== 0 &&
      !(isRecord(value) && Object.keys(value).length === 0)
    ) {
      errors.push({ type: 'Invalid', field, value, detail: 'needs to be unset' });
    }
  }
  return errors;
}

function coreEventValidate(object: KubeObject): FieldError[] {
  const involved = record(object.involvedObject);
  const namespace = typeof involved.namespace === 'string' ? involved.namespace : '';
  if (namespace !== '' && namespace !== object.metadata.namespace) {
    return [
      {
        type: 'Invalid',
        field: 'involvedObject.namespace',
        value: namespace,
        detail: 'does not match event.namespace',
      },
    ];
  }
  return [];
}

function leaseValidate(object: KubeObject): FieldError[] {
  const spec = record(object.spec);
  const errors: FieldError[] = [];
  if (
    spec.leaseDurationSeconds !== undefined &&
    !(typeof spec.leaseDurationSeconds === 'number' && spec.leaseDurationSeconds > 0)
  ) {
    errors.push({
      type: 'Invalid',
      field: 'spec.leaseDurationSeconds',
      value: spec.leaseDurationSeconds,
      detail: 'must be greater than 0',
    });
  }
  if (
    spec.leaseTransitions !== undefined &&
    !(typeof spec.leaseTransitions === 'number' && spec.leaseTransitions >= 0)
  ) {
    errors.push({
      type: 'Invalid',
      field: 'spec.leaseTransitions',
      value: spec.leaseTransitions,
      detail: 'must be greater than or equal to 0',
    });
  }
  return errors;
}

function pvcValidate(object: KubeObject): FieldError[] {
  const spec = record(object.spec);
  const errors: FieldError[] = [];
  if (!Array.isArray(spec.accessModes) || spec.accessModes.length === 0)
    errors.push({ type: 'Required', field: 'spec.accessModes' });
  if (record(record(spec.resources).requests).storage === undefined)
    errors.push({ type: 'Required', field: 'spec.resources[storage]' });
  return errors;
}

/** Hooks per collection key (`group/resource`). */
export const builtinHooks: Record<string, BuiltinHooks> = {
  '/namespaces': {
    prepareCreate(object) {
      object.spec = { finalizers: ['kubernetes'] };
      object.status = { phase: 'Active' };
      object.metadata.labels = {
        ...object.metadata.labels,
        'kubernetes.io/metadata.name': object.metadata.name ?? '',
      };
    },
  },
  '/secrets': secretHooks,
  '/pods': {
    prepareCreate(object) {
      object.status = { phase: 'Pending', qosClass: 'BestEffort' };
    },
    normalize(object) {
      defaultPodSpec(ensureRecord(object, 'spec'), 'Always');
    },
    validate: (object) => validatePodSpec(object.spec, 'spec'),
  },
  '/persistentvolumeclaims': {
    prepareCreate(object) {
      // The local provisioner binds at once: the claim's data is a directory of the control plane.
      const spec = ensureRecord(object, 'spec');
      spec.volumeName ??= `pvc-${object.metadata.uid ?? ''}`;
      spec.volumeMode ??= 'Filesystem';
      const requests = record(record(spec.resources).requests);
      object.status = {
        phase: 'Bound',
        accessModes: spec.accessModes,
        capacity: { storage: requests.storage },
      };
    },
    validate: pvcValidate,
  },
  '/events': {
    decode: (object) => checkMicroTime('Event', object.eventTime),
    validate: coreEventValidate,
  },
  'events.k8s.io/events': {
    decode: (object) => checkMicroTime('Event', object.eventTime),
    validate: eventsV1Validate,
  },
  'coordination.k8s.io/leases': {
    decode(object) {
      checkMicroTime('Lease', record(object.spec).acquireTime);
      checkMicroTime('Lease', record(object.spec).renewTime);
    },
    validate: leaseValidate,
  },
  'apps/deployments': {
    ...workloadHooks,
    normalize(object) {
      workloadHooks.normalize?.(object);
      const spec = record(object.spec);
      spec.progressDeadlineSeconds ??= 600;
      const strategy = ensureRecord(spec, 'strategy');
      if (strategy.type === undefined)
        Object.assign(strategy, {
          type: 'RollingUpdate',
          rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' },
        });
    },
  },
  'apps/statefulsets': {
    ...workloadHooks,
    normalize(object) {
      workloadHooks.normalize?.(object);
      const spec = record(object.spec);
      spec.podManagementPolicy ??= 'OrderedReady';
      spec.updateStrategy ??= { type: 'RollingUpdate', rollingUpdate: { partition: 0 } };
    },
  },
  'batch/jobs': { prepareCreate: jobPrepareCreate, normalize: jobNormalize, validate: jobValidate },
};
