/** Why the form is shown again: a wrong token, or a form that expired or did not come from this site. */
export type LoginProblem = 'none' | 'token' | 'form';

const PROBLEM_TEXT: Record<Exclude<LoginProblem, 'none'>, string> = {
  token: 'That token is not valid.',
  form: 'This sign-in form expired or was not sent from this site. Sign in again.',
};

/**
 * The dashboard login form, with its double-submit token (`csrf`, base64url: safe in an attribute). Static text
 * otherwise: nothing from the request is ever echoed into it.
 */
export const loginPage = (options: { problem: LoginProblem; csrfToken: string }): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Valhalla admin login</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 28rem; margin: 4rem auto; padding: 0 1rem; }
  label, input, button { display: block; width: 100%; box-sizing: border-box; }
  input { margin: .5rem 0 1rem; padding: .5rem; font-family: monospace; }
  button { padding: .6rem; }
  .error { color: #b00020; }
</style>
</head>
<body>
<h1>Queue dashboard</h1>
<p>Sign in with your API token (the one you send as <code>Authorization: Bearer</code>).</p>
${options.problem === 'none' ? '' : `<p class="error" role="alert">${PROBLEM_TEXT[options.problem]}</p>\n`}<form method="post" action="/admin/login">
  <input type="hidden" name="csrf" value="${options.csrfToken}">
  <label for="token">Token</label>
  <input id="token" name="token" type="password" autocomplete="current-password" required maxlength="1000">
  <button type="submit">Sign in</button>
</form>
</body>
</html>
`;

/** What a browser gets instead of the JSON error when it opens the dashboard without a session. */
export const signInRequiredPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in required</title></head>
<body><p>A valid token is required. <a href="/admin/login">Sign in</a></p></body></html>
`;
