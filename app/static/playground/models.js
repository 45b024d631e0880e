// The model a panel sends to: every ready model of the panel's task in the repository (GET /models),
// the panel's own model chosen at first. The choice shows when the task has more than that one model.
// onChange(name, entry) gets the chosen model's /models entry (its input and output), or undefined.
import { call } from "./api.js";

export function chosenModel(select) {
  return select.value || select.dataset.own;
}

export async function setUpModelChoice(select, task, ownModel, onChange) {
  select.value = ownModel;
  let listing = [];
  try {
    listing = await (await call("models")).json();
  } catch {
    return; // the panel keeps its own model; its requests show any error
  }
  const ready = listing.filter((entry) => entry.task === task && entry.status === "ready");
  const names = ready.map((entry) => entry.name);
  if (!names.includes(ownModel)) names.unshift(ownModel);
  select.replaceChildren(...names.map((name) => new Option(name, name, name === ownModel, name === ownModel)));
  select.closest(".model-choice").hidden = names.length < 2;
  const entryOf = (name) => ready.find((entry) => entry.name === name);
  select.addEventListener("change", () => onChange(select.value, entryOf(select.value)));
}

