import { options, type VNode } from 'preact';

/**
 * Unicode's bidirectional formatting characters: embeddings and overrides (U+202A–U+202E), isolates (U+2066–U+2069)
 * and the invisible marks (U+200E, U+200F, U+061C). In a reason or an actor name they reorder what an operator
 * reads: "\u202Eevil\u202C reason" displays as "live reason". The api stores text as it was written (the audit log
 * keeps it exactly); the console shows each of these characters as a visible code and never applies it.
 */
const BIDI_CONTROLS = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

/** The text with every bidi control replaced by `[U+XXXX]`, so it reads in stored order and shows what was there. */
const neutraliseBidi = (text: string): string =>
  text.replace(BIDI_CONTROLS, (control) => `[U+${control.codePointAt(0)?.toString(16).toUpperCase().padStart(4, '0') ?? '????'}]`);

/**
 * Neutralises every text node the console renders, through Preact's `options.vnode` hook (called for each vnode it
 * creates, text included): whichever screen shows text from the api (reasons, actors, details, error messages),
 * none can forget to. The data itself is left as the api sent it (ids are sent back unchanged).
 */
export const installBidiGuard = (): void => {
  // Another hook installed before this one (preact/debug, devtools) still runs, after this one.
  const previous = options.vnode?.bind(options);
  options.vnode = (vnode: VNode) => {
    // A text vnode: no type, and the text as its props.
    if (vnode.type === null && typeof vnode.props === 'string') (vnode as { props: unknown }).props = neutraliseBidi(vnode.props);
    previous?.(vnode);
  };
};
