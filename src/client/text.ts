/** Words for counts in messages, shared by the CLI and the studio. */
export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
