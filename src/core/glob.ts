/** Glob patterns (`*`, `?`, `[a-z]`, `**`) as regular expressions: shared by ignore files and MLTable paths. */

export const escapeRegex = (c: string): string => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** The regex body of one glob (no anchors): `*` and `?` stay within a path segment, `**` followed by a slash spans folders. */
export function globBody(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '\\' && i + 1 < glob.length) {
      out += escapeRegex(glob[++i] as string);
    } else if (c === '*') {
      if (glob[i + 1] === '*') {
        const atStart = i === 0 || glob[i - 1] === '/';
        const next = glob[i + 2];
        if (atStart && next === '/') {
          out += '(?:.*/)?'; // `**/`: zero or more directories
          i += 2;
          continue;
        }
        if (atStart && next === undefined) {
          out += '.*'; // trailing `/**`: everything inside
          i += 1;
          continue;
        }
        i += 1; // any other `**` is a plain `*`
      }
      out += '[^/]*';
    } else if (c === '?') {
      out += '[^/]';
    } else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) {
        out += '\\[';
        continue;
      }
      let cls = glob.slice(i + 1, end);
      if (cls.startsWith('!')) cls = `^${cls.slice(1)}`;
      out += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else {
      out += escapeRegex(c);
    }
  }
  return out;
}
