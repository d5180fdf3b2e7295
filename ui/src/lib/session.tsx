import { createContext, useContext } from 'react';
import { LapisClient, type WhoAmI } from '../../../src/client/index.js';

/**
 * The browser session: an API token from the login route, kept in localStorage and sent as a
 * Bearer token by the typed client (the same credential the CLI uses; logging out revokes it).
 */
const TOKEN_KEY = 'lapis.token';

export const storedToken = (): string | undefined => localStorage.getItem(TOKEN_KEY) ?? undefined;
export const storeToken = (token: string | undefined): void => {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
};

export const clientFor = (workspace?: string): LapisClient => {
  const token = storedToken();
  return new LapisClient({ url: location.origin, ...(workspace ? { workspace } : {}), ...(token ? { token } : {}) });
};

export interface Session {
  me: WhoAmI;
  /** The workspace of the page, from its URL. */
  workspace: string;
  client: LapisClient;
  logout(): Promise<void>;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside the signed-in layout');
  return s;
}

/** `lapis_<id>_<secret>`: the id names the token to revoke on logout. */
export const tokenId = (token: string): string | undefined => /^lapis_([^_]+)_/.exec(token)?.[1];
