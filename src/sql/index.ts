// PostgreSQL's own parser is the only reader of SQL in schemaops.
export { SqlParseError, loadSqlParser, parseStatements, type ParsedStatement } from './parse.js';
export {
  transactionNeed,
  transactionRuleFor,
  transactionRules,
  type TransactionNeed,
  type TransactionRule,
} from './transactions.js';
export {
  findLossCandidates,
  type LossAnalysisOptions,
  type LossCandidate,
  type NotAnalysable,
  type PlanAnalysisInput,
} from './dataloss.js';
export { lossRules, type LossKind, type LossRule } from './loss-rules.js';
export { measureDataLoss, type DataLoss } from './measure.js';
export { describeDataLoss } from './describe.js';
export {
  onlineRuleFor,
  onlineRules,
  onlineSafety,
  type OnlinePlan,
  type OnlineSafety,
  type OnlineSafetyOptions,
} from './online.js';
export { findSquawk, SQUAWK_ENV } from './squawk.js';
