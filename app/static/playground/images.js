// What the digit and clothing panels share: the 28×28 image the model saw, with an optional saliency
// overlay, and probability bars.

/**
 * Paint `input` (28×28 values 0–255) on a 28×28 canvas; with `saliency` (28×28, 0–1) tint it red.
 * The tint is the square root of the saliency: a gradient map is peaked, and a linear tint would
 * show only its few strongest pixels.
 */
export function paintInput(canvas, input, saliency) {
  const context = canvas.getContext("2d");
  const image = context.createImageData(28, 28);
  for (let row = 0; row < 28; row++) {
    for (let col = 0; col < 28; col++) {
      const i = (row * 28 + col) * 4;
      const gray = input[row][col];
      const heat = saliency ? Math.sqrt(saliency[row][col]) : 0;
      // Blend towards red by the saliency: the regions that drove the answer glow.
      image.data[i] = gray + (255 - gray) * heat;
      image.data[i + 1] = gray * (1 - heat);
      image.data[i + 2] = gray * (1 - heat);
      image.data[i + 3] = 255;
    }
  }
  context.putImageData(image, 0, 0);
}

export function clearInput(canvas) {
  canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
}

/** Fill an <ol> with one bar per {name, probability, top}; `top` entries are bold. */
export function renderBars(list, entries) {
  list.replaceChildren(
    ...entries.map((entry) => {
      const item = document.createElement("li");
      item.dataset.testid = "probability";
      if (entry.top) item.classList.add("top");
      const name = document.createElement("span");
      name.textContent = entry.name;
      const bar = document.createElement("span");
      bar.className = "bar";
      const fill = document.createElement("span");
      fill.style.width = `${(entry.probability * 100).toFixed(1)}%`;
      bar.append(fill);
      const value = document.createElement("span");
      value.className = "value";
      value.textContent = `${(entry.probability * 100).toFixed(1)}%`;
      item.append(name, bar, value);
      return item;
    }),
  );
}

/**
 * Show a classifier's answer in a panel's view ({label, bars, seen, saliency: the toggle}), or clear it
 * when there is none; `describe(answer)` gives the label text and the bars.
 */
export function showAnswer(view, answer, describe) {
  if (answer === null) {
    view.label.textContent = "–";
    view.bars.replaceChildren();
    clearInput(view.seen);
    return;
  }
  const { text, entries } = describe(answer);
  view.label.textContent = text;
  renderBars(view.bars, entries);
  paintInput(view.seen, answer.input, view.saliency.checked ? answer.saliency : null);
}
