// Sign-in. Deployed ("cognito"): the user pool checks email and password (USER_PASSWORD_AUTH over TLS), the
// identity pool trades the ID token for temporary credentials of the console's admin role (only for the
// "admins" group), and every API call is signed with them (sigv4.js). Nothing is stored: credentials live in
// memory for this tab and are renewed with the refresh token before they expire. The local stack
// ("admin-key"): its admin key, sent as X-Admin-Key, kept in this tab's session storage.
(() => {
  "use strict";

const ADMIN_KEY_STORAGE = "console.adminKey";

class SignInError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

async function awsJson(url, target, body) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-amz-json-1.1", "x-amz-target": target },
      body: JSON.stringify(body),
    });
  } catch (error) {
    throw new SignInError("Network", error.message);
  }
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const code = String(answer.__type || answer.code || response.status).split("#").pop();
    throw new SignInError(code, answer.message || answer.Message || code);
  }
  return answer;
}

class CognitoSession {
  constructor(config) {
    this.kind = "cognito";
    this.config = config;
    this.idpUrl = `https://cognito-idp.${config.region}.amazonaws.com/`;
    this.identityUrl = `https://cognito-identity.${config.region}.amazonaws.com/`;
    this.credentials = null;
    this.refreshToken = null;
    this.challenge = null;
    this.renewal = null;
  }

  // Answers "signed-in", or "new-password" when Cognito asks the invited user to choose a password.
  async signIn(email, password) {
    const answer = await awsJson(this.idpUrl, "AWSCognitoIdentityProviderService.InitiateAuth", {
      AuthFlow: "USER_PASSWORD_AUTH",
      ClientId: this.config.userPoolClientId,
      AuthParameters: { USERNAME: email, PASSWORD: password },
    });
    return this._afterAuth(answer, email);
  }

  async setNewPassword(newPassword) {
    const { session, email } = this.challenge;
    const answer = await awsJson(this.idpUrl, "AWSCognitoIdentityProviderService.RespondToAuthChallenge", {
      ChallengeName: "NEW_PASSWORD_REQUIRED",
      ClientId: this.config.userPoolClientId,
      Session: session,
      ChallengeResponses: { USERNAME: email, NEW_PASSWORD: newPassword },
    });
    return this._afterAuth(answer, email);
  }

  async _afterAuth(answer, email) {
    if (answer.ChallengeName === "NEW_PASSWORD_REQUIRED") {
      // Cognito names the user by its internal id in the challenge (with email as the username attribute).
      const params = answer.ChallengeParameters || {};
      this.challenge = { session: answer.Session, email: params.USER_ID_FOR_SRP || params.USERNAME || email };
      return "new-password";
    }
    if (!answer.AuthenticationResult) throw new SignInError(answer.ChallengeName || "Unsupported", "unsupported sign-in step");
    this.challenge = null;
    this.refreshToken = answer.AuthenticationResult.RefreshToken || this.refreshToken;
    await this._credentialsFor(answer.AuthenticationResult.IdToken);
    return "signed-in";
  }

  async _credentialsFor(idToken) {
    const logins = { [`cognito-idp.${this.config.region}.amazonaws.com/${this.config.userPoolId}`]: idToken };
    const { IdentityId } = await awsJson(this.identityUrl, "AWSCognitoIdentityService.GetId", {
      IdentityPoolId: this.config.identityPoolId, Logins: logins,
    });
    let answer;
    try {
      answer = await awsJson(this.identityUrl, "AWSCognitoIdentityService.GetCredentialsForIdentity", {
        IdentityId, Logins: logins,
      });
    } catch (error) {
      // The role mapping denies a user outside the admins group.
      if (error.code === "InvalidIdentityPoolConfigurationException" || error.code === "NotAuthorizedException") {
        throw new SignInError("NotAdmin", window.i18n.t("signin.notAdmin"));
      }
      throw error;
    }
    const c = answer.Credentials;
    this.credentials = {
      accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretKey, sessionToken: c.SessionToken,
      expiresAt: Number(c.Expiration) * 1000,
    };
  }

  async _fresh() {
    if (this.credentials && this.credentials.expiresAt - Date.now() > 5 * 60 * 1000) return this.credentials;
    if (!this.refreshToken) throw new SignInError("SignedOut", "signed out");
    // Calls made at once share one renewal.
    if (!this.renewal) {
      this.renewal = (async () => {
        const answer = await awsJson(this.idpUrl, "AWSCognitoIdentityProviderService.InitiateAuth", {
          AuthFlow: "REFRESH_TOKEN_AUTH", ClientId: this.config.userPoolClientId,
          AuthParameters: { REFRESH_TOKEN: this.refreshToken },
        });
        await this._credentialsFor(answer.AuthenticationResult.IdToken);
      })().finally(() => { this.renewal = null; });
    }
    await this.renewal;
    return this.credentials;
  }

  get signedIn() {
    return this.credentials !== null;
  }

  async authorize(method, url, headers, body) {
    const credentials = await this._fresh();
    return window.sigv4.signRequest({
      method, url, headers, body, region: this.config.region, service: "execute-api", credentials,
    });
  }

  signOut() {
    this.credentials = null;
    this.refreshToken = null;
  }
}

class AdminKeySession {
  constructor() {
    this.kind = "admin-key";
    this.key = window.sessionStorage.getItem(ADMIN_KEY_STORAGE);
  }

  async signIn(key) {
    this.key = key;
    window.sessionStorage.setItem(ADMIN_KEY_STORAGE, key);
    return "signed-in";
  }

  get signedIn() {
    return Boolean(this.key);
  }

  async authorize() {
    return { "x-admin-key": this.key };
  }

  signOut() {
    this.key = null;
    window.sessionStorage.removeItem(ADMIN_KEY_STORAGE);
  }
}

function createSession(config) {
  return config.signIn === "cognito" ? new CognitoSession(config) : new AdminKeySession();
}

window.signin = { createSession, SignInError };
})();
