/** `If-None-Match`: a list of entity tags (weak ones compare equal too), or `*`. `etag` is the tag without quotes. */
export const matchesEtag = (header: string | undefined, etag: string): boolean => {
  if (header === undefined) return false;
  return header.split(',').some((candidate) => {
    const tag = candidate.trim().replace(/^W\//, '');
    return tag === '*' || tag === `"${etag}"`;
  });
};
