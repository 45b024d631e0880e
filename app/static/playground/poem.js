// The poem panel: the request built from the form, the poem streamed over /generate/poem/stream.
import { ApiError, answered, call, readEvents, setBusy } from "./api.js";
import { showError } from "./errors.js";
import { t } from "./i18n.js";
import { chosenModel, setUpModelChoice } from "./models.js";

const form = document.getElementById("poem-form");
const output = document.getElementById("poem-output");
const meta = document.getElementById("poem-meta");
const submit = document.getElementById("poem-submit");
const temperature = document.getElementById("poem-temperature");
const errorLine = document.getElementById("poem-error");
const panel = document.getElementById("panel-poem");
const modelChoice = document.getElementById("poem-model");

let finished = null; // the `done` event of the last poem

/** The JSON body of the request the form describes; empty fields are left to the API's defaults. */
export function poemRequest() {
  const value = (id) => document.getElementById(id).value.trim();
  const [lines, length] = value("poem-form-kind").split("x").map(Number);
  const body = {
    line_num: lines,
    line_length: length,
    temperature: Number(temperature.value),
    rhyme: value("poem-rhyme"),
    tones: value("poem-tones"),
  };
  if (value("poem-start")) body.start = value("poem-start");
  if (value("poem-acrostic")) body.acrostic = value("poem-acrostic");
  if (value("poem-theme")) {
    body.theme = value("poem-theme");
    body.theme_as = value("poem-theme-as");
  }
  if (value("poem-seed") !== "") body.seed = Number(value("poem-seed"));
  return body;
}

function renderMeta() {
  if (finished === null) {
    meta.textContent = "";
    return;
  }
  const rhyme = finished.rhyme_group ? `${t("rhymeGroup")} ${finished.rhyme_group}` : t("noRhymeGroup");
  meta.textContent = `${t("seedUsed")} ${finished.seed} · ${rhyme} · ${t("version")} ${finished.model_version}`;
}

async function write(event) {
  event.preventDefault();
  output.textContent = "";
  finished = null;
  renderMeta();
  showError(errorLine, null);
  submit.disabled = true;
  setBusy(panel);
  meta.textContent = t("working");
  try {
    const response = await call(`generate/${chosenModel(modelChoice)}/stream`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(poemRequest()),
    });
    await readEvents(response, (name, data) => {
      if (name === "char") {
        // One couplet per line, as poems are printed.
        output.textContent += data.char + (data.char === "。" ? "\n" : "");
      } else if (name === "done") {
        finished = data;
        output.textContent = data.poem;
        renderMeta();
      } else if (name === "error") {
        showError(errorLine, new ApiError(null, data.detail, data));
      }
    });
  } catch (error) {
    meta.textContent = "";
    showError(errorLine, error);
  } finally {
    submit.disabled = false;
    answered(panel);
  }
}

/** Rhymes and tones need the model's rhyme tables: a model without them (one imported from the course) writes
 * free verse, so those choices are set to none and locked instead of answering 422 each time. */
function offerVerse(entry) {
  const tables = Boolean(entry && entry.input && entry.input.rhymes);
  for (const id of ["poem-rhyme", "poem-tones"]) {
    const select = document.getElementById(id);
    if (!tables) select.value = "none";
    select.disabled = !tables;
  }
}

export function setUpPoem() {
  panel.dataset.busy = "false";
  setUpModelChoice(modelChoice, "text-generation", "poem", (name, entry) => offerVerse(entry));
  form.addEventListener("submit", write);
  temperature.addEventListener("input", () => {
    document.getElementById("poem-temperature-value").textContent = temperature.value;
  });
  document.addEventListener("languagechange", renderMeta);
}
