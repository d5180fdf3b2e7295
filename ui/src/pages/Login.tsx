import { useState } from 'react';
import { clientFor, storeToken } from '../lib/session.js';

/** Password login (or a pasted API token): the token goes to localStorage, then the app reloads its session. */
export default function LoginPage({ onLogin, reason }: { onLogin: () => void; reason?: string | undefined }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [token, setToken] = useState('');
  const [useToken, setUseToken] = useState(false);
  const [error, setError] = useState<string | undefined>(reason);
  const [busy, setBusy] = useState(false);

  const submit = async () => {
    setBusy(true);
    setError(undefined);
    try {
      if (useToken) {
        storeToken(token.trim());
        await clientFor().auth.whoami();
      } else {
        storeToken(undefined);
        const created = await clientFor().auth.login(username, password, { expires: '7d' });
        storeToken(created.token);
      }
      onLogin();
    } catch (err) {
      storeToken(undefined);
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="login" id="main">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
        aria-labelledby="login-title"
      >
        <h1 id="login-title">Lapis</h1>
        <p className="hint">Sign in to this server.</p>
        {useToken ? (
          <label>
            API token
            <input name="token" type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} autoFocus required />
          </label>
        ) : (
          <>
            <label>
              User name
              <input name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} autoFocus required />
            </label>
            <label>
              Password
              <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
            </label>
          </>
        )}
        {error ? (
          <p className="form-error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <button type="button" className="link" onClick={() => setUseToken((t) => !t)}>
          {useToken ? 'Use a user name and password' : 'Use an API token instead'}
        </button>
      </form>
    </main>
  );
}
