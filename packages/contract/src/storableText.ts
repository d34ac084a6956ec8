import { z } from 'zod';

/**
 * Text rules every string of a job payload obeys, on every path (HTTP body, a job added straight to Redis): what
 * PostgreSQL stores exactly as sent and what an audit reader sees as sent. NUL cannot be stored in `text`; a lone
 * surrogate would be stored as U+FFFD (the audit reason would differ from the job's); control characters hide text
 * in terminals and logs. Line breaks and tabs are allowed only in free text (reasons, notes).
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_EXCEPT_LINE_BREAKS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const ANY_CONTROL = /[\u0000-\u001F\u007F-\u009F]/;

const wellFormed = (value: string) => value.isWellFormed();

/** Free text (reason, notes): tabs and line breaks allowed, other control characters, NUL and lone surrogates not. */
export const freeText = (min: number, max: number, field: string) =>
  z
    .string()
    .min(min, min === 1 ? `${field} must not be empty` : `${field} must be at least ${min} characters`)
    .max(max, `${field} must be at most ${max} characters`)
    .refine((value) => !value.includes('\u0000'), `${field} must not contain NUL characters`)
    .refine(wellFormed, `${field} must be well-formed Unicode (no lone surrogates)`)
    .refine((value) => !CONTROL_EXCEPT_LINE_BREAKS.test(value), `${field} must not contain control characters`);

/** Bidirectional overrides and isolates: they reorder how a name is displayed (a "Trojan Source" name). */
const BIDI_CONTROL = /[\u202A-\u202E\u2066-\u2069]/;

/**
 * A one-line name (actor, release, version): surrounding spaces trimmed; no control characters at all, checked before
 * the trim (a trailing line break is refused, not silently dropped), and no bidirectional controls.
 */
export const lineText = (min: number, max: number, field: string) =>
  z
    .string()
    .refine((value) => !value.includes('\u0000'), `${field} must not contain NUL characters`)
    .refine((value) => !ANY_CONTROL.test(value), `${field} must not contain control characters (line breaks and tabs included)`)
    .refine((value) => !BIDI_CONTROL.test(value), `${field} must not contain bidirectional control characters`)
    .trim()
    .min(min, `${field} must not be empty`)
    .max(max, `${field} must be at most ${max} characters`)
    .refine(wellFormed, `${field} must be well-formed Unicode (no lone surrogates)`);
