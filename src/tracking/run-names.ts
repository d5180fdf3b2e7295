import { randomInt } from 'node:crypto';

// Friendly default run names in MLflow's "adjective-noun-number" style, so UIs read the same.
const ADJECTIVES = ['able', 'bold', 'brave', 'bright', 'calm', 'clever', 'crisp', 'eager', 'fair', 'fast', 'gentle', 'glad', 'grand', 'keen', 'kind', 'lively', 'lucky', 'merry', 'neat', 'nimble', 'proud', 'quick', 'quiet', 'rare', 'sharp', 'shy', 'smart', 'spry', 'steady', 'sunny', 'swift', 'tidy', 'vast', 'warm', 'wise', 'witty'];
const NOUNS = ['ant', 'bass', 'bear', 'bee', 'cat', 'crane', 'crow', 'deer', 'dove', 'eel', 'elk', 'finch', 'fox', 'frog', 'goat', 'hare', 'hawk', 'heron', 'horse', 'ibis', 'jay', 'koi', 'lark', 'lynx', 'mole', 'moth', 'newt', 'owl', 'panda', 'pike', 'quail', 'ram', 'seal', 'shrew', 'snail', 'swan', 'toad', 'trout', 'vole', 'wasp', 'whale', 'wolf', 'wren', 'yak'];

export function randomRunName(): string {
  return `${ADJECTIVES[randomInt(ADJECTIVES.length)]}-${NOUNS[randomInt(NOUNS.length)]}-${randomInt(1000)}`;
}
