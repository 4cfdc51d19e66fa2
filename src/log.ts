import { pino, stdTimeFunctions, type DestinationStream, type Logger } from 'pino';

/**
 * The operator's root logger: JSON lines with ISO-8601 times and level names (`"level":"warn"`), so a person
 * or a log pipeline reads them without pino's numeric levels and epoch milliseconds.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination ? pino(options, destination) : pino(options);
}
