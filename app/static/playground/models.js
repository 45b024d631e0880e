// The model a panel sends to: every ready model of the panel's task in the repository (GET /models),
// the panel's own model chosen at first. The choice shows when the task has more than that one model.
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
  const names = listing.filter((entry) => entry.task === task && entry.status === "ready").map((entry) => entry.name);
  if (!names.includes(ownModel)) names.unshift(ownModel);
  select.replaceChildren(...names.map((name) => new Option(name, name, name === ownModel, name === ownModel)));
  select.closest(".model-choice").hidden = names.length < 2;
  select.addEventListener("change", () => onChange(select.value));
}

