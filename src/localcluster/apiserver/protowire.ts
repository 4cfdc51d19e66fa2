/** One decoded protobuf field: varints as bigint, length-delimited fields as bytes. */
export interface WireField {
  field: number;
  wireType: number;
  varint?: bigint;
  bytes?: Uint8Array;
}

function readVarint(buf: Uint8Array, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    const byte = buf[pos];
    if (byte === undefined) throw new Error('truncated varint');
    pos += 1;
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [result, pos];
    shift += 7n;
  }
}

/** Splits a protobuf message into its fields, in order. */
export function readFields(buf: Uint8Array): WireField[] {
  const fields: WireField[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [tag, next] = readVarint(buf, pos);
    pos = next;
    const field = Number(tag >> 3n);
    const wireType = Number(tag & 7n);
    if (wireType === 0) {
      const [value, after] = readVarint(buf, pos);
      fields.push({ field, wireType, varint: value });
      pos = after;
    } else if (wireType === 2) {
      const [length, after] = readVarint(buf, pos);
      const end = after + Number(length);
      if (end > buf.length) throw new Error('truncated field');
      fields.push({ field, wireType, bytes: buf.subarray(after, end) });
      pos = end;
    } else if (wireType === 1) {
      pos += 8;
    } else if (wireType === 5) {
      pos += 4;
    } else {
      throw new Error(`unsupported wire type ${wireType}`);
    }
  }
  return fields;
}
