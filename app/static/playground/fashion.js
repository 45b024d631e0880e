// The clothing panel: a photo chosen, dropped or pasted; the top three classes in both languages.
import { LatestRequest, call, postFile } from "./api.js";
import { currentLanguage } from "./i18n.js";
import { showAnswer } from "./images.js";
import { chosenModel, setUpModelChoice } from "./models.js";

const TOP = 3;

const panel = document.getElementById("panel-fashion");
const drop = document.getElementById("fashion-drop");
const fileInput = document.getElementById("fashion-file");
const preview = document.getElementById("fashion-preview");
const label = document.getElementById("fashion-label");
const bars = document.getElementById("fashion-top");
const seen = document.getElementById("fashion-input");
const saliencyToggle = document.getElementById("fashion-saliency");
const errorLine = document.getElementById("fashion-error");
const modelChoice = document.getElementById("fashion-model");

let classes = null; // {en: [...10], zh: [...10]} from the model's metadata
let answer = null;
let lastFile = null; // classified again when another model is chosen
const requests = new LatestRequest(panel, errorLine);

function className(index) {
  if (classes === null) return String(index);
  const en = classes.en[index];
  const zh = classes.zh?.[index];
  if (!zh) return en;
  return currentLanguage() === "zh" ? `${zh} ${en}` : `${en} ${zh}`;
}

function render() {
  showAnswer({ label, bars, seen, saliency: saliencyToggle }, answer, (shown) => {
    const ranked = shown.probabilities
      .map((probability, index) => ({ index, probability }))
      .sort((a, b) => b.probability - a.probability)
      .slice(0, TOP);
    return {
      text: className(shown.label),
      entries: ranked.map((entry, rank) => ({ name: className(entry.index), probability: entry.probability, top: rank === 0 })),
    };
  });
}

async function classify(file) {
  preview.hidden = !file.type.startsWith("image/");
  if (!preview.hidden) preview.src = URL.createObjectURL(file);
  label.textContent = "…";
  lastFile = file;
  const path = `predict/${chosenModel(modelChoice)}?explain=true`;
  const outcome = await requests.run(() => postFile(path, file, file.name || "photo"));
  if (outcome === null) return; // a newer photo is on its way
  answer = outcome.answer;
  render();
}

async function loadClassNames() {
  try {
    const meta = await (await call(`models/${chosenModel(modelChoice)}`)).json();
    classes = { en: meta.output.classes, zh: meta.output.classes_zh };
  } catch {
    classes = null; // the answers still carry the top class's names; the bars show indices
  }
  render();
}

export function setUpFashion() {
  panel.dataset.busy = "false";
  fileInput.addEventListener("change", () => {
    if (fileInput.files.length) classify(fileInput.files[0]);
  });
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer.files.length) classify(event.dataTransfer.files[0]);
  });
  document.addEventListener("paste", (event) => {
    if (panel.hidden) return;
    const file = [...event.clipboardData.files].find((f) => f.type.startsWith("image/"));
    if (file) classify(file);
  });
  saliencyToggle.addEventListener("change", render);
  document.addEventListener("languagechange", render);
  loadClassNames();
  setUpModelChoice(modelChoice, "image-classification", "fashion", async () => {
    await loadClassNames();
    if (lastFile !== null) classify(lastFile);
  });
}
