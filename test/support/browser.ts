import { access } from 'node:fs/promises';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium (apt-get install chromium): Playwright's own browser downloads are never used. */
export const CHROMIUM = process.env.LAPIS_TEST_CHROMIUM ?? '/usr/bin/chromium';

const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** Headless Chromium for the studio's end-to-end tests and the UI benchmark. */
export async function launchChromium(): Promise<Browser> {
  await access(CHROMIUM).catch(() => {
    throw new Error(`No Chromium at ${CHROMIUM}: install it with 'apt-get install -y chromium' (or set LAPIS_TEST_CHROMIUM).`);
  });
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
}
