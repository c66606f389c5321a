// AWS Signature Version 4 in the browser, with WebCrypto (no library): the console signs each admin API call
// with the temporary credentials of its admin role, as API Gateway's IAM authorization expects. Checked
// against botocore's signer on the same requests (tests/browser/test_console_sigv4.py).
(() => {
  "use strict";

const encoder = new TextEncoder();

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

async function sha256Hex(data) {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  return hex(await crypto.subtle.digest("SHA-256", bytes));
}

async function hmac(key, data) {
  const cryptoKey = await crypto.subtle.importKey(
    "raw", typeof key === "string" ? encoder.encode(key) : key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"],
  );
  return crypto.subtle.sign("HMAC", cryptoKey, encoder.encode(data));
}

// RFC 3986 percent-encoding: everything but unreserved characters (and "/" when asked).
function uriEncode(text, keepSlash) {
  let out = "";
  for (const byte of encoder.encode(text)) {
    const char = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(char) || (keepSlash && char === "/")) out += char;
    else out += "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

// A URL's path encoded as it is sent: each segment once.
function encodePath(segments) {
  return "/" + segments.map((segment) => uriEncode(segment, false)).join("/");
}

// The query string as it is sent and as it is signed (sorted, each name and value encoded once).
function encodeQuery(params) {
  return Object.entries(params)
    .filter(([, value]) => value !== undefined && value !== null && value !== "")
    .map(([name, value]) => [uriEncode(name, false), uriEncode(String(value), false)])
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join("&");
}

function amzDate(date) {
  return date.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

// Sign one request. `url` is absolute with its path and query already encoded (encodePath, encodeQuery);
// `headers` are the ones the request carries that should be signed (content-type); `body` a string or bytes.
// Answers the headers to add: authorization, x-amz-date, x-amz-security-token (with a session token).
async function signRequest({ method, url, headers = {}, body = "", region, service, credentials, date = new Date() }) {
  const parsed = new URL(url);
  const stamp = amzDate(date);
  const day = stamp.slice(0, 8);
  const signed = {};
  for (const [name, value] of Object.entries(headers)) signed[name.toLowerCase()] = String(value).trim().replace(/\s+/g, " ");
  signed.host = parsed.host;
  signed["x-amz-date"] = stamp;
  if (credentials.sessionToken) signed["x-amz-security-token"] = credentials.sessionToken;
  const names = Object.keys(signed).sort();
  const canonicalHeaders = names.map((name) => `${name}:${signed[name]}\n`).join("");
  const signedHeaders = names.join(";");
  // The path is signed encoded a second time (every service but S3), the query as sent, sorted.
  const canonicalPath = uriEncode(parsed.pathname || "/", true);
  const query = parsed.search.slice(1);
  const canonicalQuery = query
    ? query.split("&").map((pair) => {
      const at = pair.indexOf("=");
      return at < 0 ? [pair, ""] : [pair.slice(0, at), pair.slice(at + 1)];
    }).sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
      .map(([name, value]) => `${name}=${value}`).join("&")
    : "";
  const payloadHash = await sha256Hex(typeof body === "string" ? encoder.encode(body) : body);
  const canonicalRequest = [method, canonicalPath, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash].join("\n");
  const scope = `${day}/${region}/${service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", stamp, scope, await sha256Hex(canonicalRequest)].join("\n");
  let key = await hmac("AWS4" + credentials.secretAccessKey, day);
  key = await hmac(key, region);
  key = await hmac(key, service);
  key = await hmac(key, "aws4_request");
  const signature = hex(await hmac(key, stringToSign));
  const answer = {
    authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
    "x-amz-date": stamp,
  };
  if (credentials.sessionToken) answer["x-amz-security-token"] = credentials.sessionToken;
  return answer;
}

window.sigv4 = { signRequest, encodePath, encodeQuery, uriEncode };
})();
