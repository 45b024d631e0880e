// The playground's entry point: language, tabs (also reachable as #digit, #fashion, #house, #poem), panels.
import { setUpDigit } from "./digit.js";
import { setUpErrorTexts } from "./errors.js";
import { setUpFashion } from "./fashion.js";
import { setUpHouse } from "./house.js";
import { setUpLanguage } from "./i18n.js";
import { setUpPoem } from "./poem.js";

const PANELS = ["digit", "fashion", "house", "poem"];

function show(name, focus = false) {
  for (const other of PANELS) {
    const tab = document.getElementById(`tab-${other}`);
    const selected = other === name;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    document.getElementById(`panel-${other}`).hidden = !selected;
    if (selected && focus) tab.focus();
  }
  history.replaceState(null, "", `#${name}`);
}

function setUpTabs() {
  PANELS.forEach((name, index) => {
    const tab = document.getElementById(`tab-${name}`);
    tab.addEventListener("click", () => show(name));
    // The keyboard pattern of a WAI-ARIA tab list: arrows move between tabs.
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (step === undefined) return;
      show(PANELS[(index + step + PANELS.length) % PANELS.length], true);
      event.preventDefault();
    });
  });
  const wanted = location.hash.slice(1);
  show(PANELS.includes(wanted) ? wanted : "digit");
}

setUpLanguage();
setUpErrorTexts();
setUpTabs();
setUpDigit();
setUpFashion();
setUpHouse();
setUpPoem();
