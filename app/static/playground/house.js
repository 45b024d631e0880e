// The house panel: a form built from house_fields.json (the most influential fields first, prefilled
// with typical values from train.csv, then every other Kaggle column), and the predicted price.
import { LatestRequest, call, postJson, setBusy } from "./api.js";
import { nameFields, showError } from "./errors.js";
import { currentLanguage, t } from "./i18n.js";

const form = document.getElementById("house-form");
const mainFields = document.getElementById("house-main-fields");
const otherFields = document.getElementById("house-other-fields");
const price = document.getElementById("house-price");
const warnings = document.getElementById("house-warnings");
const errorLine = document.getElementById("house-error");
const panel = document.getElementById("panel-house");

let spec = null;
let answer = null;
const requests = new LatestRequest(panel, errorLine);

function fieldLabel(field) {
  const zh = currentLanguage() === "zh";
  const name = (zh ? field.label_zh : field.label_en) || field.description || field.name;
  const unit = zh ? field.unit_zh : field.unit_en;
  return unit ? `${name} (${unit})` : name;
}

function control(field, prefill) {
  let input;
  if (field.choices) {
    input = document.createElement("select");
    input.append(new Option("", ""));
    for (const choice of field.choices) input.append(new Option(String(choice), String(choice)));
  } else {
    input = document.createElement("input");
    input.type = "number";
    input.min = String(field.min);
    input.max = String(field.max);
    input.step = "any";
    input.inputMode = "decimal";
  }
  input.name = field.name;
  input.dataset.testid = `house-field-${field.name}`;
  if (prefill && field.typical !== null && field.typical !== undefined) input.value = String(field.typical);
  return input;
}

function fieldRow(field, prefill) {
  const row = document.createElement("label");
  const caption = document.createElement("span");
  caption.className = "caption";
  const hint = document.createElement("small");
  row.append(caption, control(field, prefill), hint);
  row.dataset.field = field.name;
  return row;
}

function relabel() {
  if (spec === null) return;
  for (const field of [...spec.main, ...spec.other]) {
    const row = form.querySelector(`label[data-field="${field.name}"]`);
    row.querySelector(".caption").textContent = fieldLabel(field);
    row.querySelector("small").textContent = field.choices
      ? field.name
      : `${field.name} · ${t("houseFieldRange")} ${field.min}–${field.max}`;
  }
  render();
}

/** The JSON body: every non-empty field, numbers as numbers (the API refuses "12" where a number belongs). */
export function houseRequest() {
  const body = {};
  for (const field of [...spec.main, ...spec.other]) {
    const value = form.elements[field.name].value.trim();
    if (value === "") continue;
    body[field.name] = field.kind === "text" ? value : Number(value);
  }
  return body;
}

function render() {
  if (answer === null) {
    price.textContent = "–";
    delete price.dataset.value;
    warnings.replaceChildren();
    return;
  }
  const locale = currentLanguage() === "zh" ? "zh-CN" : "en-US";
  price.textContent = answer.sale_price.toLocaleString(locale, { style: "currency", currency: "USD", maximumFractionDigits: 0 });
  price.dataset.value = String(answer.sale_price);
  warnings.replaceChildren(...(answer.warnings || []).map((text) => Object.assign(document.createElement("li"), { textContent: text })));
}

async function estimate(event) {
  event.preventDefault();
  price.textContent = "…";
  const outcome = await requests.run(() => postJson("predict/house-price", houseRequest()));
  if (outcome === null) return;
  answer = outcome.answer;
  render();
}

export async function setUpHouse() {
  setBusy(panel); // until the form is built
  form.addEventListener("submit", estimate);
  document.addEventListener("languagechange", relabel);
  try {
    spec = await (await call("static/playground/house_fields.json")).json();
  } catch (error) {
    showError(errorLine, error);
    panel.dataset.busy = "false";
    return;
  }
  nameFields(Object.fromEntries([...spec.main, ...spec.other].filter((f) => f.label_zh).map((f) => [f.name, f.label_zh])));
  mainFields.replaceChildren(...spec.main.map((field) => fieldRow(field, true)));
  otherFields.replaceChildren(...spec.other.map((field) => fieldRow(field, false)));
  relabel();
  panel.dataset.busy = "false";
}
