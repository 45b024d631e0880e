// What an error line says, in the page's language. The service's `detail` is English (the API's convention);
// in 中文 mode the page says it in Chinese, keyed by the answer's stable `code` and, for a validation error,
// by each field and its pydantic `type` (errors_zh.json), with the service's English detail below it and on
// hover. A code the page does not know is shown as the service said it, never as nothing.
import { currentLanguage, t } from "./i18n.js";

const MAX_FIELDS = 5; // as many as the service's own detail names

let chinese = null; // errors_zh.json once loaded; until then errors show in English
const fieldNames = new Map(); // request field -> its Chinese name (house.js adds the Kaggle columns)
const shown = new Map(); // alert element -> the error it shows, re-rendered when the language changes

function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

/** Chinese names for request fields, e.g. {GrLivArea: "地上居住面积"}. */
export function nameFields(names) {
  for (const [field, name] of Object.entries(names)) fieldNames.set(field, name);
}

function fieldName(path) {
  const head = path.split(".")[0];
  const name = fieldNames.get(head) ?? chinese.fields[head];
  return name ? `${name}（${path}）` : path;
}

function inChinese(error) {
  const sentence = chinese.codes[error.code];
  if (!sentence) return null;
  const parts = [sentence];
  if (error.errors.length) {
    const fields = error.errors.slice(0, MAX_FIELDS).map(
      (e) => `${fieldName(e.field)}：${chinese.types[e.type] ?? chinese.typeFallback}`
    );
    parts.push(fields.join("；") + (error.errors.length > MAX_FIELDS ? "……" : "") + "。");
  }
  if (error.unknownCharacters.length) {
    parts.push(fill(chinese.unknownCharacters, { characters: error.unknownCharacters.join("、") }) + "。");
  }
  if (error.retryAfter) parts.push(fill(chinese.retryAfter, { seconds: error.retryAfter }));
  return parts.join("");
}

/**
 * {text, original} for an error: the line to show, and the service's English detail when the line is a
 * translation of it. An ApiError carries the answer's status, detail, code, field errors and Retry-After.
 */
export function describe(error) {
  if (error.status === 0) return { text: t("networkError"), original: null }; // nothing came back
  if (error.detail === undefined) return { text: error.message, original: null }; // not from the service
  const prefix = error.status ? `${error.status} — ` : "";
  const translated = currentLanguage() === "zh" && chinese !== null && error.code ? inChinese(error) : null;
  return translated === null
    ? { text: prefix + error.detail, original: null }
    : { text: prefix + translated, original: error.detail };
}

function render(element, error) {
  element.hidden = error === null;
  element.replaceChildren();
  element.removeAttribute("title");
  if (error === null) return;
  const { text, original } = describe(error);
  const line = Object.assign(document.createElement("span"), { className: "message", textContent: text });
  line.dataset.testid = `${element.dataset.testid}-message`;
  element.append(line);
  if (original !== null) {
    const english = Object.assign(document.createElement("small"), { className: "original", lang: "en" });
    english.textContent = original;
    english.dataset.testid = `${element.dataset.testid}-original`;
    element.append(english);
    element.title = original;
  }
}

/** Show `error` (an ApiError or any Error) in a panel's alert line; null hides it. */
export function showError(element, error) {
  if (error === null) shown.delete(element);
  else shown.set(element, error);
  render(element, error);
}

function renderAll() {
  for (const [element, error] of shown) render(element, error);
}

/** Fetch the Chinese texts; errors already shown are said again once they are here. */
export async function setUpErrorTexts() {
  document.addEventListener("languagechange", renderAll);
  try {
    const response = await fetch("static/playground/errors_zh.json");
    if (response.ok) chinese = await response.json();
  } catch {
    // the texts did not load: errors stay in the service's English, which is still the whole message
  }
  document.body.dataset.errorTexts = chinese === null ? "missing" : "ready"; // the browser tests wait on it
  renderAll();
}
