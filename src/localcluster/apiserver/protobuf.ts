import { badRequest } from './errors.js';
import { readFields, type WireField } from './protowire.js';

/**
 * A decoder for the protobuf bodies typed clients send (kubectl create job|deployment|namespace|
 * configmap|secret): the Kubernetes envelope and the fields those commands set. Fields not listed here
 * are dropped.
 */

type Scalar = 'string' | 'bool' | 'int' | 'bytes' | 'time' | 'intOrString';
type MapKind = 'map' | 'mapBytes' | 'mapQuantity';

interface FieldSpec {
  name: string;
  type: Scalar | MapKind | { message: string };
  repeated?: boolean;
  /** A pointer field whose zero value is meaningful (replicas: 0). */
  keepZero?: boolean;
  /** An inlined Go struct: its fields land in the parent. */
  inline?: boolean;
}

const s = (name: string, repeated = false): FieldSpec => ({ name, type: 'string', repeated });
const i = (name: string, keepZero = false): FieldSpec => ({ name, type: 'int', keepZero });
const b = (name: string): FieldSpec => ({ name, type: 'bool' });
const m = (name: string, message: string, repeated = false): FieldSpec => ({
  name,
  type: { message },
  repeated,
});

const messages: Record<string, Record<number, FieldSpec>> = {
  ObjectMeta: {
    1: s('name'),
    2: s('generateName'),
    3: s('namespace'),
    5: s('uid'),
    6: s('resourceVersion'),
    7: i('generation'),
    8: { name: 'creationTimestamp', type: 'time' },
    9: { name: 'deletionTimestamp', type: 'time' },
    10: i('deletionGracePeriodSeconds'),
    11: { name: 'labels', type: 'map' },
    12: { name: 'annotations', type: 'map' },
    13: m('ownerReferences', 'OwnerReference', true),
    14: s('finalizers', true),
  },
  OwnerReference: {
    1: s('kind'),
    3: s('name'),
    4: s('uid'),
    5: s('apiVersion'),
    6: b('controller'),
    7: b('blockOwnerDeletion'),
  },
  LabelSelector: {
    1: { name: 'matchLabels', type: 'map' },
    2: m('matchExpressions', 'LabelSelectorRequirement', true),
  },
  LabelSelectorRequirement: { 1: s('key'), 2: s('operator'), 3: s('values', true) },
  Namespace: { 1: m('metadata', 'ObjectMeta'), 2: m('spec', 'NamespaceSpec') },
  NamespaceSpec: { 1: s('finalizers', true) },
  ConfigMap: {
    1: m('metadata', 'ObjectMeta'),
    2: { name: 'data', type: 'map' },
    3: { name: 'binaryData', type: 'mapBytes' },
    4: b('immutable'),
  },
  Secret: {
    1: m('metadata', 'ObjectMeta'),
    2: { name: 'data', type: 'mapBytes' },
    3: s('type'),
    4: { name: 'stringData', type: 'map' },
    5: b('immutable'),
  },
  Deployment: { 1: m('metadata', 'ObjectMeta'), 2: m('spec', 'DeploymentSpec') },
  DeploymentSpec: {
    1: i('replicas', true),
    2: m('selector', 'LabelSelector'),
    3: m('template', 'PodTemplateSpec'),
    4: m('strategy', 'DeploymentStrategy'),
    5: i('minReadySeconds'),
    6: i('revisionHistoryLimit', true),
    7: b('paused'),
    9: i('progressDeadlineSeconds', true),
  },
  DeploymentStrategy: { 1: s('type'), 2: m('rollingUpdate', 'RollingUpdateDeployment') },
  RollingUpdateDeployment: {
    1: { name: 'maxUnavailable', type: 'intOrString' },
    2: { name: 'maxSurge', type: 'intOrString' },
  },
  StatefulSet: { 1: m('metadata', 'ObjectMeta'), 2: m('spec', 'StatefulSetSpec') },
  StatefulSetSpec: {
    1: i('replicas', true),
    2: m('selector', 'LabelSelector'),
    3: m('template', 'PodTemplateSpec'),
    5: s('serviceName'),
  },
  Job: { 1: m('metadata', 'ObjectMeta'), 2: m('spec', 'JobSpec') },
  JobSpec: {
    1: i('parallelism', true),
    2: i('completions', true),
    3: i('activeDeadlineSeconds', true),
    4: m('selector', 'LabelSelector'),
    5: b('manualSelector'),
    6: m('template', 'PodTemplateSpec'),
    7: i('backoffLimit', true),
    8: i('ttlSecondsAfterFinished', true),
  },
  PodTemplateSpec: { 1: m('metadata', 'ObjectMeta'), 2: m('spec', 'PodSpec') },
  PodSpec: {
    1: m('volumes', 'Volume', true),
    2: m('containers', 'Container', true),
    3: s('restartPolicy'),
    4: i('terminationGracePeriodSeconds', true),
    5: i('activeDeadlineSeconds', true),
    6: s('dnsPolicy'),
    7: { name: 'nodeSelector', type: 'map' },
    8: s('serviceAccountName'),
    10: s('nodeName'),
    15: m('imagePullSecrets', 'LocalObjectReference', true),
    16: s('hostname'),
    19: s('schedulerName'),
    20: m('initContainers', 'Container', true),
  },
  Container: {
    1: s('name'),
    2: s('image'),
    3: s('command', true),
    4: s('args', true),
    5: s('workingDir'),
    6: m('ports', 'ContainerPort', true),
    7: m('env', 'EnvVar', true),
    8: m('resources', 'ResourceRequirements'),
    9: m('volumeMounts', 'VolumeMount', true),
    13: s('terminationMessagePath'),
    14: s('imagePullPolicy'),
    16: b('stdin'),
    17: b('stdinOnce'),
    18: b('tty'),
    20: s('terminationMessagePolicy'),
  },
  ContainerPort: { 1: s('name'), 2: i('hostPort'), 3: i('containerPort'), 4: s('protocol'), 5: s('hostIP') },
  EnvVar: { 1: s('name'), 2: s('value'), 3: m('valueFrom', 'EnvVarSource') },
  EnvVarSource: {
    1: m('fieldRef', 'ObjectFieldSelector'),
    3: m('configMapKeyRef', 'KeySelector'),
    4: m('secretKeyRef', 'KeySelector'),
  },
  ObjectFieldSelector: { 1: s('apiVersion'), 2: s('fieldPath') },
  KeySelector: {
    1: { name: '', type: { message: 'LocalObjectReference' }, inline: true },
    2: s('key'),
    3: b('optional'),
  },
  LocalObjectReference: { 1: s('name') },
  ResourceRequirements: {
    1: { name: 'limits', type: 'mapQuantity' },
    2: { name: 'requests', type: 'mapQuantity' },
  },
  VolumeMount: { 1: s('name'), 2: b('readOnly'), 3: s('mountPath'), 4: s('subPath') },
  Volume: { 1: s('name'), 2: { name: '', type: { message: 'VolumeSource' }, inline: true } },
  VolumeSource: {
    2: m('emptyDir', 'EmptyDirVolumeSource'),
    6: m('secret', 'SecretVolumeSource'),
    10: m('persistentVolumeClaim', 'PersistentVolumeClaimVolumeSource'),
    19: m('configMap', 'ConfigMapVolumeSource'),
  },
  EmptyDirVolumeSource: { 1: s('medium') },
  SecretVolumeSource: { 1: s('secretName'), 3: i('defaultMode', true) },
  PersistentVolumeClaimVolumeSource: { 1: s('claimName'), 2: b('readOnly') },
  ConfigMapVolumeSource: {
    1: { name: '', type: { message: 'LocalObjectReference' }, inline: true },
    3: i('defaultMode', true),
  },
};

const text = new TextDecoder();

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

function decodeTime(bytes: Uint8Array): string | undefined {
  let seconds = 0n;
  for (const f of readFields(bytes))
    if (f.field === 1 && f.varint !== undefined) seconds = BigInt.asIntN(64, f.varint);
  if (seconds <= 0n) return undefined;
  return new Date(Number(seconds) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function decodeIntOrString(bytes: Uint8Array): number | string {
  let kind = 0n;
  let intVal = 0;
  let strVal = '';
  for (const f of readFields(bytes)) {
    if (f.field === 1) kind = f.varint ?? 0n;
    if (f.field === 2) intVal = Number(BigInt.asIntN(32, f.varint ?? 0n));
    if (f.field === 3 && f.bytes) strVal = text.decode(f.bytes);
  }
  return kind === 1n ? strVal : intVal;
}

function decodeMapEntry(bytes: Uint8Array, kind: MapKind): [string, unknown] {
  let key = '';
  let value: unknown = '';
  for (const f of readFields(bytes)) {
    if (f.field === 1 && f.bytes) key = text.decode(f.bytes);
    if (f.field !== 2 || !f.bytes) continue;
    if (kind === 'map') value = text.decode(f.bytes);
    else if (kind === 'mapBytes') value = toBase64(f.bytes);
    else value = decodeQuantity(f.bytes);
  }
  return [key, value];
}

function decodeQuantity(bytes: Uint8Array): string {
  const f = readFields(bytes).find((x) => x.field === 1);
  return f?.bytes ? text.decode(f.bytes) : '';
}

function scalarValue(f: WireField, type: Scalar): unknown {
  switch (type) {
    case 'string':
      return f.bytes ? text.decode(f.bytes) : '';
    case 'bool':
      return f.varint === 1n;
    case 'int':
      return Number(BigInt.asIntN(64, f.varint ?? 0n));
    case 'bytes':
      return toBase64(f.bytes ?? new Uint8Array());
    case 'time':
      return f.bytes ? decodeTime(f.bytes) : undefined;
    case 'intOrString':
      return decodeIntOrString(f.bytes ?? new Uint8Array());
  }
}

function isZero(value: unknown): boolean {
  return value === '' || value === false || value === 0 || value === undefined;
}

function assignMessage(out: Record<string, unknown>, spec: FieldSpec, message: string, f: WireField): void {
  const value = decodeMessage(f.bytes ?? new Uint8Array(), message);
  if (spec.inline) Object.assign(out, value);
  else if (spec.repeated) ((out[spec.name] ??= []) as unknown[]).push(value);
  else out[spec.name] = value;
}

function assignField(out: Record<string, unknown>, spec: FieldSpec, f: WireField): void {
  const type = spec.type;
  if (typeof type === 'object') {
    assignMessage(out, spec, type.message, f);
    return;
  }
  if (type === 'map' || type === 'mapBytes' || type === 'mapQuantity') {
    const [key, value] = decodeMapEntry(f.bytes ?? new Uint8Array(), type);
    ((out[spec.name] ??= {}) as Record<string, unknown>)[key] = value;
    return;
  }
  const value = scalarValue(f, type);
  if (spec.repeated) ((out[spec.name] ??= []) as unknown[]).push(value);
  else if (!isZero(value) || (spec.keepZero && value === 0)) out[spec.name] = value;
}

function decodeMessage(bytes: Uint8Array, name: string): Record<string, unknown> {
  const schema = messages[name] ?? {};
  const out: Record<string, unknown> = {};
  for (const f of readFields(bytes)) {
    const spec = schema[f.field];
    if (spec) assignField(out, spec, f);
  }
  return out;
}

const magic = [0x6b, 0x38, 0x73, 0x00];

/** Decodes a `application/vnd.kubernetes.protobuf` body into the JSON form of the object. */
export function decodeKubernetesProtobuf(body: Uint8Array): Record<string, unknown> {
  if (body.length < 4 || magic.some((byte, index) => body[index] !== byte)) {
    throw badRequest(
      'provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]',
    );
  }
  try {
    const envelope = readFields(body.subarray(4));
    const typeMeta = decodeMessage(
      envelope.find((f) => f.field === 1)?.bytes ?? new Uint8Array(),
      'TypeMeta',
    );
    const raw = envelope.find((f) => f.field === 2)?.bytes ?? new Uint8Array();
    const kind = typeof typeMeta.kind === 'string' ? typeMeta.kind : '';
    if (!messages[kind])
      throw badRequest(`protobuf bodies of kind ${kind} are not supported here; send JSON`);
    return { apiVersion: typeMeta.apiVersion, kind, ...decodeMessage(raw, kind) };
  } catch (err) {
    if (err instanceof Error && !('code' in err))
      throw badRequest(`unable to decode protobuf body: ${err.message}`);
    throw err;
  }
}

messages.TypeMeta = { 1: s('apiVersion'), 2: s('kind') };
