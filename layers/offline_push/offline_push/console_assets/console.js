// The console: the seed's step 2 (apps -> iOS push settings -> add certificate -> note its ID), app settings,
// and "why no push?" for a user or a message. Plain DOM, no framework; every call goes to the admin API of
// the stack that served this page, authorized by signin.js (SigV4 deployed, the admin key locally).
(() => {
  "use strict";

const { t, explain } = window.i18n;
const $ = (selector, root = document) => root.querySelector(selector);

const NAME_PATTERN = /^[A-Za-z0-9 _.-]{1,64}$/;
const TEN_ALNUM = /^[A-Za-z0-9]{10}$/;
const BUNDLE_PATTERN = /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/;
const MAX_FILE_BYTES = 64 * 1024;
const WARN_DAYS = 30;

// Which field of the certificate dialog an API error concerns.
const FIELD_OF_CODE = {
  InvalidCertificateName: "name",
  InvalidEnvironment: "environment",
  EnvironmentNotServable: "environment",
  EnvironmentChange: "environment",
  InvalidCredentialType: "type",
  CredentialFileMissing: "file",
  CredentialTooLarge: "file",
  NotPkcs12: "file",
  P12WithoutPrivateKey: "file",
  P12WithoutCertificate: "file",
  PrivateKeyMismatch: "file",
  CertificateExpired: "file",
  CertificateNotYetValid: "file",
  NotApnsCertificate: "file",
  BundleIdMismatch: "file",
  InvalidP8Key: "file",
  P8KeyNotP256: "file",
  PasswordRequired: "password",
  WrongPassword: "password",
  P12NotPasswordProtected: "password",
  InvalidKeyId: "keyId",
  InvalidTeamId: "teamId",
  InvalidBundleId: "bundleId",
};

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let session = null;
let view = { name: "signin" };
let certificates = [];
let lastRender = null; // the page's tables, re-rendered when the language changes
let whyRender = null; // the "why no push?" answer shown, likewise

// --- API ---------------------------------------------------------------------------------------------------

async function api(method, segments, { query = {}, json } = {}) {
  const search = window.sigv4.encodeQuery(query);
  const url = `${location.origin}${window.sigv4.encodePath(segments)}${search ? "?" + search : ""}`;
  const body = json === undefined ? "" : JSON.stringify(json);
  const headers = json === undefined ? {} : { "content-type": "application/json" };
  const auth = await session.authorize(method, url, headers, body);
  let response;
  try {
    response = await fetch(url, { method, headers: { ...headers, ...auth }, body: body || undefined });
  } catch (error) {
    throw new ApiError(0, "Network", t("error.network", { message: error.message }));
  }
  if (response.status === 204) return null;
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    // API Gateway's own refusals carry only {"message": "Forbidden"}.
    const code = answer.code || (response.status === 403 ? "Forbidden" : String(response.status));
    throw new ApiError(response.status, code, answer.message || response.statusText);
  }
  return answer;
}

// --- small helpers -----------------------------------------------------------------------------------------

function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") element.className = value;
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function formatDate(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`; // one unambiguous form in both languages
}

function envLabel(environment) {
  return environment ? t(`env.${environment}`) : "–";
}

// Which registration call takes the new certificate's ID: setAPNS for notifications, setVOIP for VoIP calls.
function createdBodyKey(kinds) {
  const served = kinds || ["alert"];
  if (!served.includes("voip")) return "created.body";
  return served.includes("alert") ? "created.bodyBoth" : "created.bodyVoip";
}

function kindsLabel(kinds) {
  return kinds && kinds.length ? kinds.map((kind) => t(`kind.${kind}`)).join(t("kind.separator")) : "–";
}

function notify(text, kind = "info") {
  const notice = $("#notice");
  notice.textContent = text;
  notice.className = `notice ${kind}`;
  notice.hidden = false;
}

function clearNotice() {
  $("#notice").hidden = true;
}

function showFieldError(id, text) {
  const box = document.getElementById(id);
  if (!box) return;
  box.textContent = text;
  box.hidden = !text;
  const input = document.querySelector(`[aria-describedby~="${id}"]`);
  if (input) input.setAttribute("aria-invalid", text ? "true" : "false");
}

function clearErrors(root) {
  for (const box of root.querySelectorAll(".error")) {
    box.hidden = true;
    box.textContent = "";
  }
  for (const input of root.querySelectorAll("[aria-invalid]")) input.setAttribute("aria-invalid", "false");
}

function errorText(error) {
  if (error.code === "Forbidden") return t("error.forbidden");
  return explain(error.code, error.message);
}

// --- views -------------------------------------------------------------------------------------------------

function show(name) {
  for (const section of document.querySelectorAll("main > section")) section.hidden = section.id !== `view-${name}`;
  $("#signout").hidden = name === "signin";
}

function crumbs(items) {
  const nav = $("#crumbs");
  nav.replaceChildren(...items.map((item, index) => (
    index === items.length - 1
      ? el("span", { "aria-current": "page" }, item.label)
      : el("a", { href: item.href }, item.label)
  )).flatMap((node, index) => (index ? [el("span", { class: "sep", "aria-hidden": "true" }, "›"), node] : [node])));
}

async function route() {
  clearNotice();
  if (!session.signedIn) {
    view = { name: "signin" };
    renderSignIn();
    return;
  }
  const match = location.hash.match(/^#\/apps\/([1-9][0-9]{0,18})$/);
  if (match) {
    view = { name: "app", sdkAppId: match[1] };
    await renderApp(match[1]);
  } else {
    view = { name: "apps" };
    await renderApps();
  }
  $("#main").focus();
}

function renderSignIn() {
  show("signin");
  crumbs([]);
  const cognito = session.kind === "cognito";
  $("#signin-key").hidden = cognito;
  $("#signin-cognito").hidden = !cognito;
  (cognito ? $("#email") : $("#admin-key")).focus();
}

async function renderApps() {
  show("apps");
  crumbs([{ label: t("nav.apps") }]);
  const box = $("#apps-list");
  box.replaceChildren(el("p", { class: "hint" }, t("loading")));
  try {
    const { apps } = await api("GET", ["v1", "apps"]);
    lastRender = () => renderAppsTable(apps);
    renderAppsTable(apps);
  } catch (error) {
    box.replaceChildren(el("p", { class: "error" }, errorText(error)));
  }
}

function renderAppsTable(apps) {
  const box = $("#apps-list");
  if (!apps.length) {
    box.replaceChildren(el("p", { class: "empty" }, t("apps.none")));
    return;
  }
  box.replaceChildren(el("table", { class: "table" },
    el("thead", {}, el("tr", {},
      el("th", { scope: "col" }, t("apps.sdkAppId")),
      el("th", { scope: "col" }, t("apps.certificates")),
      el("th", { scope: "col" }, t("apps.configured")),
      el("th", { scope: "col" }, t("apps.kickPolicy")))),
    el("tbody", {}, apps.map((app) => el("tr", {},
      el("td", {}, el("a", { href: `#/apps/${app.sdkAppId}` }, String(app.sdkAppId))),
      el("td", {}, String(app.certificates)),
      el("td", {}, app.configured ? t("apps.yes") : t("apps.no")),
      el("td", {}, app.kickPolicy ? t(`settings.${app.kickPolicy}`) : "–")))),
  ));
}

async function renderApp(sdkAppId) {
  show("app");
  crumbs([{ label: t("nav.apps"), href: "#/apps" }, { label: t("app.heading", { id: sdkAppId }) }]);
  $("#app-title").textContent = t("app.heading", { id: sdkAppId });
  $("#why-result").replaceChildren();
  whyRender = null;
  clearErrors($("#view-app"));
  lastRender = () => {
    $("#app-title").textContent = t("app.heading", { id: sdkAppId });
    renderCertificates();
  };
  await Promise.all([loadCertificates(sdkAppId), loadSettings(sdkAppId)]);
}

// --- certificates --------------------------------------------------------------------------------------------

async function loadCertificates(sdkAppId) {
  const box = $("#certs-list");
  box.replaceChildren(el("p", { class: "hint" }, t("loading")));
  try {
    certificates = (await api("GET", ["v1", "apps", sdkAppId, "certificates"])).certificates;
    renderCertificates();
  } catch (error) {
    box.replaceChildren(el("p", { class: "error" }, errorText(error)));
  }
}

function expiryCell(expiresAt) {
  if (!expiresAt) return el("td", {}, t("certs.never"));
  const days = Math.floor((new Date(expiresAt).getTime() - Date.now()) / 86400000);
  const date = el("time", { datetime: expiresAt }, formatDate(expiresAt));
  if (days < 0) return el("td", { class: "expired" }, date, el("span", { class: "badge error" }, t("certs.expired")));
  if (days < WARN_DAYS) {
    return el("td", { class: "expiring" }, date, el("span", { class: "badge warning" }, t("certs.expiresSoon", { days })));
  }
  return el("td", {}, date);
}

function renderCertificates() {
  const box = $("#certs-list");
  if (!certificates.length) {
    box.replaceChildren(el("p", { class: "empty" }, t("certs.none")));
    return;
  }
  box.replaceChildren(el("table", { class: "table certs" },
    el("thead", {}, el("tr", {},
      ["certs.id", "certs.name", "certs.type", "certs.bundleId", "certs.environment", "certs.pushKinds", "certs.expires",
        "certs.created", "certs.updated", "certs.actions"].map((key) => el("th", { scope: "col" }, t(key))))),
    el("tbody", {}, certificates.map((cert) => el("tr", { "data-business-id": cert.businessId },
      el("th", { scope: "row", class: "cert-id" },
        el("span", { class: "business-id", "data-testid": "business-id" }, String(cert.businessId)),
        el("button", {
          type: "button", class: "small", "aria-label": t("certs.copyLabel", { id: cert.businessId }),
          onclick: (event) => copyId(event.currentTarget, cert.businessId),
        }, t("certs.copy"))),
      el("td", {}, cert.name),
      el("td", {}, cert.type),
      el("td", { class: "mono nowrap" }, cert.bundleId),
      el("td", {}, envLabel(cert.environment)),
      el("td", { "data-testid": "push-kinds" }, kindsLabel(cert.pushKinds)),
      expiryCell(cert.expiresAt),
      el("td", {}, el("time", { datetime: cert.createdAt }, formatDate(cert.createdAt))),
      el("td", {}, el("time", { datetime: cert.updatedAt }, formatDate(cert.updatedAt))),
      el("td", { class: "actions" },
        el("button", {
          type: "button", class: "small", "aria-label": t("certs.rotateLabel", { id: cert.businessId }),
          onclick: () => openCertificateDialog(cert),
        }, t("certs.rotate")),
        el("button", {
          type: "button", class: "small danger-button", "aria-label": t("certs.deleteLabel", { id: cert.businessId }),
          onclick: () => openDeleteDialog(cert),
        }, t("certs.delete")))))),
  ));
}

async function copyId(button, businessId) {
  try {
    await navigator.clipboard.writeText(String(businessId));
  } catch {
    // Without clipboard permission, select the number so the user can copy it.
    const range = document.createRange();
    range.selectNodeContents(button.previousElementSibling);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
  }
  button.textContent = t("certs.copied");
  setTimeout(() => { button.textContent = t("certs.copy"); }, 1500);
}

let rotating = null; // the certificate being rotated, or null when adding

function selectedType() {
  return $("#cert-form").elements.type.value;
}

function syncTypeFields() {
  const p8 = selectedType() === "p8";
  $("#cert-form .p12-only").hidden = p8;
  $("#cert-form .p8-only").hidden = !p8;
  $("#cert-file").accept = p8 ? ".p8" : ".p12,application/x-pkcs12";
}

function openCertificateDialog(cert = null) {
  rotating = cert;
  const form = $("#cert-form");
  form.reset();
  clearErrors(form);
  const keep = $("#cert-environment option[value=keep]");
  keep.hidden = !cert;
  $("#cert-dialog-title").textContent = cert ? t("dialog.rotateTitle", { id: cert.businessId }) : t("dialog.addTitle");
  $("#cert-dialog-intro").hidden = !cert;
  $("#cert-dialog-intro").textContent = cert ? t("dialog.rotateIntro", { id: cert.businessId }) : "";
  for (const radio of form.elements.type) {
    radio.checked = radio.value === (cert ? cert.type : "p12");
    radio.disabled = Boolean(cert);
  }
  $("#cert-environment").value = cert ? "keep" : "development";
  $("#cert-name").placeholder = cert ? cert.name : "";
  if (cert && cert.type === "p8") $("#cert-bundle-id").value = cert.bundleId;
  syncTypeFields();
  $("#cert-submit").disabled = false;
  $("#cert-dialog").showModal();
  (cert ? $("#cert-file") : form.elements.type[0]).focus();
}

// Client-side checks: the same rules the API applies, so most mistakes are caught before anything is sent.
function checkCertificateForm() {
  const form = $("#cert-form");
  const type = selectedType();
  const problems = {};
  const name = form.elements.name.value.trim();
  if ((!rotating || name) && !NAME_PATTERN.test(name)) problems.name = t("check.name");
  const file = form.elements.file.files[0];
  if (!file) problems.file = t("check.file");
  else if (file.size > MAX_FILE_BYTES) problems.file = t("check.fileSize");
  else if (!file.name.toLowerCase().endsWith(type === "p8" ? ".p8" : ".p12")) problems.file = t("check.fileType");
  if (type === "p12" && !form.elements.password.value) problems.password = t("check.password");
  if (type === "p8") {
    if (!TEN_ALNUM.test(form.elements.keyId.value.trim())) problems.keyId = t("check.keyId");
    if (!TEN_ALNUM.test(form.elements.teamId.value.trim())) problems.teamId = t("check.teamId");
    if (!BUNDLE_PATTERN.test(form.elements.bundleId.value.trim())) problems.bundleId = t("check.bundleId");
  }
  return problems;
}

function readBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

async function submitCertificate(event) {
  event.preventDefault();
  const form = $("#cert-form");
  clearErrors(form);
  const problems = checkCertificateForm();
  const fields = Object.keys(problems);
  if (fields.length) {
    for (const field of fields) showFieldError(`${field}-error`, problems[field]);
    const first = form.querySelector(`[aria-describedby~="${fields[0]}-error"]`);
    if (first) first.focus();
    return;
  }
  const type = selectedType();
  const body = { type, file: await readBase64(form.elements.file.files[0]) };
  const name = form.elements.name.value.trim();
  if (name) body.name = name;
  const environment = form.elements.environment.value;
  if (environment !== "keep") body.environment = environment;
  if (type === "p12") body.password = form.elements.password.value;
  else {
    body.keyId = form.elements.keyId.value.trim();
    body.teamId = form.elements.teamId.value.trim();
    body.bundleId = form.elements.bundleId.value.trim();
  }
  const submit = $("#cert-submit");
  submit.disabled = true;
  submit.textContent = t("dialog.sending");
  try {
    const segments = ["v1", "apps", view.sdkAppId, "certificates"];
    const cert = rotating
      ? await api("PUT", [...segments, String(rotating.businessId)], { json: body })
      : await api("POST", segments, { json: body });
    $("#cert-dialog").close();
    notify(rotating
      ? t("rotated.title", { id: cert.businessId })
      : `${t("created.title", { id: cert.businessId })} ${t(createdBodyKey(cert.pushKinds), { id: cert.businessId })}`, "success");
    await loadCertificates(view.sdkAppId);
    const row = document.querySelector(`tr[data-business-id="${cert.businessId}"] button`);
    if (row) row.focus();
  } catch (error) {
    const field = FIELD_OF_CODE[error.code];
    if (field) {
      showFieldError(`${field}-error`, errorText(error));
      const input = form.querySelector(`[aria-describedby~="${field}-error"]`);
      if (input) input.focus();
    } else {
      showFieldError("form-error", errorText(error));
    }
  } finally {
    submit.disabled = false;
    submit.textContent = t("dialog.confirm");
    form.elements.password.value = ""; // the password never stays in the page
  }
}

let deleting = null;

function openDeleteDialog(cert) {
  deleting = cert;
  clearErrors($("#delete-form"));
  $("#delete-title").textContent = t("delete.title", { id: cert.businessId });
  $("#delete-body").textContent = t("delete.body", { id: cert.businessId });
  $("#delete-confirm").textContent = t("delete.confirm", { id: cert.businessId });
  $("#delete-dialog").showModal();
  $("#delete-cancel").focus();
}

async function confirmDelete(event) {
  event.preventDefault();
  try {
    await api("DELETE", ["v1", "apps", view.sdkAppId, "certificates", String(deleting.businessId)]);
    $("#delete-dialog").close();
    notify(t("deleted", { id: deleting.businessId }), "success");
    await loadCertificates(view.sdkAppId);
    $("#add-cert").focus();
  } catch (error) {
    showFieldError("delete-error", errorText(error));
  }
}

// --- app settings --------------------------------------------------------------------------------------------

let settingsState = null;

async function loadSettings(sdkAppId) {
  const form = $("#settings-form");
  form.reset();
  syncAlgorithmFields();
  try {
    settingsState = await api("GET", ["v1", "apps", sdkAppId, "settings"]);
  } catch (error) {
    if (error.code !== "AppNotFound") {
      showFieldError("settings-error", errorText(error));
      return;
    }
    settingsState = null;
  }
  renderSettings();
}

function renderSettings() {
  const form = $("#settings-form");
  form.elements.kickPolicy.value = settingsState ? settingsState.kickPolicy : "single";
  form.elements.placeholderLanguage.value = settingsState ? settingsState.placeholderLanguage : "zh";
  $("#settings-state").textContent = settingsState ? "" : t("settings.notSaved");
  const auth = settingsState && settingsState.userAuth;
  const current = $("#user-auth-current");
  current.replaceChildren();
  if (auth) {
    current.append(t("settings.current", { algorithm: auth.algorithm, at: formatDate(auth.updatedAt) }));
    if (auth.publicKeySha256) current.append(" · ", el("span", { class: "mono" }, t("settings.fingerprint", { fingerprint: auth.publicKeySha256 })));
  } else {
    current.append(t("settings.noKey"));
  }
}

function syncAlgorithmFields() {
  const algorithm = $("#user-auth-algorithm").value;
  $("#secret-field").hidden = algorithm !== "HS256";
  $("#public-key-field").hidden = !(algorithm === "RS256" || algorithm === "ES256");
}

async function saveSettings(event) {
  event.preventDefault();
  const form = $("#settings-form");
  clearErrors(form);
  const body = { kickPolicy: form.elements.kickPolicy.value, placeholderLanguage: form.elements.placeholderLanguage.value };
  const algorithm = form.elements.algorithm.value;
  if (algorithm === "HS256") {
    const secret = form.elements.secret.value;
    if (new TextEncoder().encode(secret).length < 32) {
      showFieldError("user-auth-secret-error", t("check.secret"));
      form.elements.secret.focus();
      return;
    }
    body.userAuth = { algorithm, secret };
  } else if (algorithm) {
    const publicKey = form.elements.publicKey.value.trim();
    if (!publicKey.startsWith("-----BEGIN PUBLIC KEY-----")) {
      showFieldError("user-auth-public-key-error", t("check.publicKey"));
      form.elements.publicKey.focus();
      return;
    }
    body.userAuth = { algorithm, publicKey };
  }
  try {
    settingsState = await api("PUT", ["v1", "apps", view.sdkAppId, "settings"], { json: body });
    form.elements.secret.value = ""; // write-only: never kept in the page
    form.elements.publicKey.value = "";
    form.elements.algorithm.value = "";
    syncAlgorithmFields();
    renderSettings();
    notify(t("settings.saved"), "success");
  } catch (error) {
    const field = algorithm === "HS256" ? "user-auth-secret-error" : algorithm ? "user-auth-public-key-error" : "settings-error";
    showFieldError(error.code === "InvalidRequest" && algorithm ? field : "settings-error", errorText(error));
  }
}

// --- why no push? ----------------------------------------------------------------------------------------------

function outcomeLabel(outcome) {
  return el("span", { class: `badge outcome-${outcome}` }, t(`outcome.${outcome}`));
}

function causeText(item) {
  return explain(item.reason, item.cause || item.message || "");
}

async function lookUpUser(event) {
  event.preventDefault();
  clearErrors($("#why-user"));
  const userId = $("#why-user-id").value.trim();
  if (!userId) {
    showFieldError("why-user-error", t("why.userId"));
    return;
  }
  const result = $("#why-result");
  result.replaceChildren(el("p", { class: "hint" }, t("loading")));
  try {
    const answer = await api("GET", ["v1", "apps", view.sdkAppId, "users", userId, "deliveries"], { query: { limit: 20 } });
    whyRender = () => renderUser(answer);
    whyRender();
  } catch (error) {
    result.replaceChildren();
    showFieldError("why-user-error", errorText(error));
  }
}

function renderUser(answer) {
  const parts = [el("h4", {}, `${t("why.userTitle")}: ${answer.userId}`)];
  if (answer.diagnosis) {
    parts.push(el("div", { class: "diagnosis", role: "note", "data-testid": "diagnosis" },
      el("strong", {}, answer.diagnosis.reason), " ", explain(answer.diagnosis.reason, answer.diagnosis.message)));
  }
  parts.push(el("h5", {}, t("why.devices")));
  if (!answer.devices.length) parts.push(el("p", { class: "empty" }, t("why.noDevices")));
  else {
    parts.push(el("table", { class: "table" },
      el("thead", {}, el("tr", {}, ["why.device", "why.deviceKind", "why.deviceEnv", "why.certificate", "why.registeredAt"].map((key) => el("th", { scope: "col" }, t(key))))),
      el("tbody", {}, answer.devices.map((device) => {
        const cert = device.certificate;
        const rows = [el("tr", {},
          el("td", { class: "mono" }, device.device),
          el("td", {}, kindsLabel(device.pushKind ? [device.pushKind] : [])),
          el("td", {}, envLabel(device.environment)),
          el("td", {}, cert && !cert.unavailable
            ? `${device.businessId} · ${cert.name} · ${cert.bundleId} · ${envLabel(cert.environment)}`
            : String(device.businessId)),
          el("td", {}, formatDate(device.registeredAt)))];
        const problems = [];
        if (device.problem) problems.push(device.problem);
        if (cert && cert.environment && cert.environment !== device.environment) {
          problems.push(t("why.mismatch", { device: envLabel(device.environment), id: device.businessId, certificate: envLabel(cert.environment) }));
        }
        if (problems.length) rows.push(el("tr", { class: "problem-row" }, el("td", { colspan: "5", class: "problem" }, problems.join(" "))));
        return rows;
      }).flat())));
  }
  if (answer.removedDevices && answer.removedDevices.length) {
    parts.push(el("h5", {}, t("why.removed")));
    parts.push(el("ul", { class: "causes" }, answer.removedDevices.map((removed) => el("li", {},
      el("strong", {}, t("why.removedLine", {
        device: removed.device, at: formatDate(removed.removedAt),
        answer: [removed.status, removed.reason].filter((part) => part !== null && part !== undefined).join(" "),
      }))))));
  }
  const failures = answer.deliveries.filter((item) => item.outcome === "failed" || item.outcome === "retrying");
  parts.push(el("h5", {}, t("why.failures")));
  parts.push(failures.length
    ? el("ul", { class: "causes" }, failures.map((item) => el("li", {},
      outcomeLabel(item.outcome), " ", el("span", { class: "mono" }, item.msgKey), " · ", formatDate(item.at), " · ",
      el("strong", {}, item.reason || ""), " ", causeText(item))))
    : el("p", { class: "empty" }, t("why.noFailures")));
  parts.push(el("h5", {}, t("why.recent")));
  parts.push(answer.deliveries.length
    ? el("table", { class: "table" },
      el("thead", {}, el("tr", {}, ["why.msgKeyCol", "why.outcome", "why.at", "why.device", "why.reason"].map((key) => el("th", { scope: "col" }, t(key))))),
      el("tbody", {}, answer.deliveries.map((item) => el("tr", {},
        el("td", { class: "mono" }, item.msgKey),
        el("td", {}, outcomeLabel(item.outcome)),
        el("td", {}, formatDate(item.at)),
        el("td", { class: "mono nowrap" }, item.device || "–"),
        el("td", {}, item.reason || "–")))))
    : el("p", { class: "empty" }, t("why.noDeliveries")));
  const recorded = { "every outcome": t("why.recordedAll"), "failures and retries only": t("why.recordedFailures") };
  parts.push(el("p", { class: "hint" }, t("why.recorded", { what: recorded[answer.recorded] || answer.recorded })));
  $("#why-result").replaceChildren(...parts);
}

async function lookUpMessage(event) {
  event.preventDefault();
  clearErrors($("#why-message"));
  const msgKey = $("#why-msg-key").value.trim();
  if (!msgKey) {
    showFieldError("why-message-error", t("why.msgKey"));
    return;
  }
  const result = $("#why-result");
  result.replaceChildren(el("p", { class: "hint" }, t("loading")));
  try {
    const summary = await api("GET", ["v1", "apps", view.sdkAppId, "messages", msgKey]);
    whyRender = () => renderMessage(summary);
    whyRender();
  } catch (error) {
    result.replaceChildren();
    showFieldError("why-message-error", errorText(error));
  }
}

function renderMessage(summary) {
  const parts = [el("h4", {}, `${t("why.msgTitle")}: ${summary.msgKey}`)];
  if (summary.noPush) {
    parts.push(el("div", { class: "diagnosis", role: "note", "data-testid": "diagnosis" },
      t("why.noPush", { message: explain(summary.noPush.reason, summary.noPush.message) })));
  }
  if (summary.invalidJob) parts.push(el("div", { class: "diagnosis", role: "note" }, t("why.invalidJob", { reason: summary.invalidJob })));
  parts.push(el("p", {}, t("why.notifications", { count: summary.notifications })));
  parts.push(el("table", { class: "table counts", "data-testid": "outcome-counts" },
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, t("why.outcome")), el("th", { scope: "col" }, "#"))),
    el("tbody", {}, Object.entries(summary.outcomes).map(([outcome, count]) => el("tr", { "data-outcome": outcome },
      el("th", { scope: "row" }, outcomeLabel(outcome)), el("td", {}, String(count)))))));
  parts.push(el("p", {}, t("why.withoutDevice", { count: summary.receiversWithoutDevice })));
  for (const [key, counts] of [["why.failuresByReason", summary.failures], ["why.retryingByReason", summary.retrying]]) {
    const entries = Object.entries(counts);
    if (!entries.length) continue;
    parts.push(el("h5", {}, t(key)));
    parts.push(el("ul", { class: "causes" }, entries.map(([reason, count]) => el("li", {}, el("strong", {}, `${reason} × ${count}`), " ", explain(reason, "")))));
  }
  $("#why-result").replaceChildren(...parts);
}

// --- start -----------------------------------------------------------------------------------------------------

async function signInSubmit(event) {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  try {
    if (form.id === "signin-key") {
      const key = $("#admin-key").value.trim();
      if (!key) {
        showFieldError("admin-key-error", t("signin.required"));
        return;
      }
      await session.signIn(key);
      // Check the key at once: a wrong one is told here, not on the next page.
      try {
        await api("GET", ["v1", "apps"]);
      } catch (error) {
        session.signOut();
        showFieldError("admin-key-error", errorText(error));
        $("#admin-key").focus();
        return;
      }
    } else {
      const step = $("#new-password-field").hidden
        ? await session.signIn($("#email").value.trim(), $("#password").value)
        : await session.setNewPassword($("#new-password").value);
      $("#password").value = "";
      if (step === "new-password") {
        // The temporary password did its work: only the new one is asked for now.
        $("#password-field").hidden = true;
        $("#email").readOnly = true;
        $("#new-password-field").hidden = false;
        $("#new-password").focus();
        return;
      }
      $("#new-password").value = "";
      $("#new-password-field").hidden = true;
      $("#password-field").hidden = false;
      $("#email").readOnly = false;
    }
  } catch (error) {
    showFieldError(form.id === "signin-key" ? "admin-key-error" : "signin-error", t("signin.failed", { message: error.message }));
    return;
  }
  if (!location.hash || location.hash === "#/") location.hash = "#/apps"; // hashchange routes
  else await route();
}

async function start() {
  window.i18n.applyLanguage();
  const config = await (await fetch("/console/config.json")).json();
  session = window.signin.createSession(config);
  $("#lang").addEventListener("click", () => {
    window.i18n.setLanguage(window.i18n.language === "zh" ? "en" : "zh");
    clearNotice(); // a notice is about what was just done, in the words it was said in
    $("#lang").lang = window.i18n.language === "zh" ? "en" : "zh-CN";
    if (view.name === "signin") renderSignIn();
    else if (view.name === "apps") { crumbs([{ label: t("nav.apps") }]); if (lastRender) lastRender(); }
    else {
      crumbs([{ label: t("nav.apps"), href: "#/apps" }, { label: t("app.heading", { id: view.sdkAppId }) }]);
      if (lastRender) lastRender();
      if (whyRender) whyRender();
      renderSettings();
    }
  });
  $("#lang").lang = window.i18n.language === "zh" ? "en" : "zh-CN";
  $("#signout").addEventListener("click", () => { session.signOut(); location.hash = ""; route(); });
  $("#signin-key").addEventListener("submit", signInSubmit);
  $("#signin-cognito").addEventListener("submit", signInSubmit);
  $("#open-app").addEventListener("submit", (event) => {
    event.preventDefault();
    const id = $("#open-app-id").value.trim();
    if (!/^[1-9][0-9]{0,18}$/.test(id)) {
      showFieldError("open-app-error", t("apps.invalidId"));
      $("#open-app-id").focus();
      return;
    }
    location.hash = `#/apps/${id}`;
  });
  $("#add-cert").addEventListener("click", () => openCertificateDialog(null));
  $("#cert-form").addEventListener("submit", submitCertificate);
  $("#cert-cancel").addEventListener("click", () => $("#cert-dialog").close());
  for (const radio of $("#cert-form").elements.type) radio.addEventListener("change", syncTypeFields);
  $("#delete-form").addEventListener("submit", confirmDelete);
  $("#delete-cancel").addEventListener("click", () => $("#delete-dialog").close());
  $("#settings-form").addEventListener("submit", saveSettings);
  $("#user-auth-algorithm").addEventListener("change", syncAlgorithmFields);
  $("#why-user").addEventListener("submit", lookUpUser);
  $("#why-message").addEventListener("submit", lookUpMessage);
  window.addEventListener("hashchange", route);
  await route();
}

document.addEventListener("DOMContentLoaded", start);
})();
