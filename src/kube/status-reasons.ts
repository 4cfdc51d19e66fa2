/** The reason a kube-apiserver puts in a Status for an HTTP error code. */
const reasonByCode: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Expired',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** The Status reason for an HTTP error code; `Unknown` for a code the server gives no reason of its own. */
export function reasonForCode(code: number): string {
  return reasonByCode[code] ?? 'Unknown';
}
