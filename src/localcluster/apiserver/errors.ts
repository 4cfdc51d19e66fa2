/** One field error inside a 422 Invalid Status. */
export interface StatusCause {
  reason: string;
  message: string;
  field: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

/** The body of a metav1.Status. */
export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

/** An error that the server answers with a Status body and its HTTP code. */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: StatusDetails | undefined;

  constructor(code: number, reason: string, message: string, details?: StatusDetails) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }

  toStatus(): StatusBody {
    const body: StatusBody = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (this.details) body.details = this.details;
    return body;
  }
}

/** How errors name a resource: `deployments.apps` or `pods` for the core group. */
export function qualifiedResource(group: string, resource: string): string {
  return group === '' ? resource : `${resource}.${group}`;
}

function resourceDetails(group: string, resource: string, name: string): StatusDetails {
  const details: StatusDetails = { name, kind: resource };
  if (group !== '') details.group = group;
  return details;
}

export function notFound(group: string, resource: string, name: string): ApiError {
  return new ApiError(
    404,
    'NotFound',
    `${qualifiedResource(group, resource)} "${name}" not found`,
    resourceDetails(group, resource, name),
  );
}

export function alreadyExists(group: string, resource: string, name: string): ApiError {
  return new ApiError(
    409,
    'AlreadyExists',
    `${qualifiedResource(group, resource)} "${name}" already exists`,
    resourceDetails(group, resource, name),
  );
}

export function conflict(group: string, resource: string, name: string, why?: string): ApiError {
  const reason =
    why ?? 'the object has been modified; please apply your changes to the latest version and try again';
  return new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualifiedResource(group, resource)} "${name}": ${reason}`,
    resourceDetails(group, resource, name),
  );
}

/** A field error, in the wording of apimachinery's field.Error. */
export interface FieldError {
  type: 'Invalid' | 'Required' | 'NotSupported' | 'Forbidden' | 'TooLong' | 'TypeInvalid' | 'Duplicate';
  field: string;
  value?: unknown;
  detail?: string;
}

const causeReasons: Record<FieldError['type'], string> = {
  Invalid: 'FieldValueInvalid',
  Required: 'FieldValueRequired',
  NotSupported: 'FieldValueNotSupported',
  Forbidden: 'FieldValueForbidden',
  TooLong: 'FieldValueTooLong',
  TypeInvalid: 'FieldValueTypeInvalid',
  Duplicate: 'FieldValueDuplicate',
};

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined || value === null) return 'null';
  if (typeof value === 'object') return `"${JSON.stringify(value).replace(/"/g, '\\"')}"`;
  return JSON.stringify(value);
}

function fieldErrorBody(error: FieldError): string {
  switch (error.type) {
    case 'Required':
      return `Required value${error.detail ? `: ${error.detail}` : ''}`;
    case 'Forbidden':
      return `Forbidden${error.detail ? `: ${error.detail}` : ''}`;
    case 'TooLong':
      return `Too long${error.detail ? `: ${error.detail}` : ''}`;
    case 'NotSupported':
      return `Unsupported value: ${describeValue(error.value)}${error.detail ? `: ${error.detail}` : ''}`;
    case 'Duplicate':
      return `Duplicate value: ${describeValue(error.value)}`;
    default:
      return `Invalid value: ${describeValue(error.value)}${error.detail ? `: ${error.detail}` : ''}`;
  }
}

/** 422 Invalid, `Kind.group "name" is invalid: field: …`, with one cause per field error. */
export function invalid(group: string, kind: string, name: string, errors: FieldError[]): ApiError {
  const causes = errors.map((e) => ({
    reason: causeReasons[e.type],
    message: fieldErrorBody(e),
    field: e.field,
  }));
  const texts = errors.map((e) => `${e.field}: ${fieldErrorBody(e)}`);
  const aggregate = texts.length === 1 ? (texts[0] ?? '') : `[${texts.join(', ')}]`;
  const qualifiedKind = group === '' ? kind : `${kind}.${group}`;
  const details: StatusDetails = { name, kind, causes };
  if (group !== '') details.group = group;
  return new ApiError(422, 'Invalid', `${qualifiedKind} "${name}" is invalid: ${aggregate}`, details);
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}

export function methodNotAllowed(): ApiError {
  return new ApiError(
    405,
    'MethodNotAllowed',
    'the server does not allow this method on the requested resource',
  );
}

export function unsupportedMediaType(contentType: string): ApiError {
  return new ApiError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: application/json, application/merge-patch+json, application/json-patch+json, application/apply-patch+yaml (got ${contentType})`,
  );
}

export function internalError(message: string): ApiError {
  return new ApiError(500, 'InternalError', `Internal error occurred: ${message}`, {
    causes: [{ reason: '', message, field: '' }],
  });
}

export function expired(message: string): ApiError {
  return new ApiError(410, 'Expired', message);
}
