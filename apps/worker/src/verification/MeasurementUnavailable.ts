/**
 * Thrown by a measurement that got an answer which proves nothing (a 5xx, a body without the field): the check
 * becomes inconclusive with this message, which the check writes itself and is therefore safe to show.
 */
export class MeasurementUnavailable extends Error {
  override readonly name = 'MeasurementUnavailable';
}
