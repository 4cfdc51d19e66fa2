const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Parses a Go-style duration as Kubernetes users write them: `500ms`, `2s`, `5m`, `1h30m`. */
export function parseDuration(text: string): number {
  const value = text.trim();
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== value) {
    throw new Error(`"${text}" is not a duration: use a number with a unit, such as 500ms, 2s, 5m or 1h`);
  }
  return parts.reduce((total, p) => total + Number(p[1]) * UNITS[p[2]!]!, 0);
}
