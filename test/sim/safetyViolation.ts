/**
 * The error every simulator check throws. `invariant` names the property (Election Safety, Log Matching, ...) so a
 * failing seed reports which promise of the paper was broken, not only where.
 */
export class SafetyViolation extends Error {
  readonly invariant: string;

  constructor(invariant: string, message: string) {
    super(`${invariant}: ${message}`);
    this.name = 'SafetyViolation';
    this.invariant = invariant;
  }
}
