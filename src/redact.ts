/** The parts of a database URL that must never be printed: the URL itself and its password. */
export function secretsOf(databaseUrl: string | undefined): string[] {
  if (!databaseUrl) return [];
  const secrets = [databaseUrl];
  try {
    const password = new URL(databaseUrl).password;
    if (password) secrets.push(password, decodeURIComponent(password));
  } catch {
    // Not a URL: the whole string is still hidden.
  }
  return [...new Set(secrets)].filter((s) => s.length >= 3).sort((a, b) => b.length - a.length);
}

/** Replaces every secret, and anything shaped like a postgres URL with a password, by a marker. */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('[redacted]');
  return out.replace(/(postgres(?:ql)?:\/\/[^:/?#\s]*:)[^@\s]*@/gi, '$1[redacted]@');
}
