// The digit panel: a canvas to draw on (mouse, pen, finger or keyboard), a guess after each stroke.
import { LatestRequest, postFile, setBusy } from "./api.js";
import { showAnswer } from "./images.js";

const PEN_WIDTH = 20; // px on the 280 px canvas: MNIST strokes are ~2 px of a 20 px digit box
const KEY_STEP = 10; // px per arrow key press
const DEBOUNCE_MS = 250; // a guess after the pen rests, not after every stroke of a fast writer

const canvas = document.getElementById("digit-canvas");
const context = canvas.getContext("2d");
const label = document.getElementById("digit-label");
const bars = document.getElementById("digit-probabilities");
const seen = document.getElementById("digit-input");
const saliencyToggle = document.getElementById("digit-saliency");
const errorLine = document.getElementById("digit-error");
const panel = document.getElementById("panel-digit");

let drawing = false;
let last = null;
let pen = { x: canvas.width / 2, y: canvas.height / 2 }; // where the keyboard pen is
let timer = null;
let answer = null;
const requests = new LatestRequest(panel, errorLine); // answers to older drawings are dropped

function resetCanvas() {
  context.fillStyle = "#fff";
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.strokeStyle = "#000";
  context.fillStyle = "#000";
  context.lineWidth = PEN_WIDTH;
  context.lineCap = "round";
  context.lineJoin = "round";
}

function pointFrom(event) {
  // The canvas is scaled by CSS on small screens: map from CSS pixels to canvas pixels.
  const box = canvas.getBoundingClientRect();
  return { x: ((event.clientX - box.left) * canvas.width) / box.width, y: ((event.clientY - box.top) * canvas.height) / box.height };
}

function segment(from, to) {
  context.beginPath();
  context.moveTo(from.x, from.y);
  context.lineTo(to.x, to.y);
  context.stroke();
}

function dot(at) {
  context.beginPath();
  context.arc(at.x, at.y, PEN_WIDTH / 2, 0, 2 * Math.PI);
  context.fill();
}

function schedulePrediction() {
  clearTimeout(timer);
  setBusy(panel); // a guess is on its way
  timer = setTimeout(predict, DEBOUNCE_MS);
}

function render() {
  showAnswer({ label, bars, seen, saliency: saliencyToggle }, answer, (shown) => ({
    text: String(shown.label),
    entries: shown.probabilities.map((probability, digit) => ({ name: String(digit), probability, top: digit === shown.label })),
  }));
}

export async function predict() {
  clearTimeout(timer);
  label.textContent = "…";
  const outcome = await requests.run(async () => {
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
    return postFile("predict/digit?explain=true", blob, "digit.png");
  });
  if (outcome === null) return; // a newer drawing is on its way
  answer = outcome.answer;
  render();
}

function clear() {
  clearTimeout(timer);
  requests.cancel();
  resetCanvas();
  answer = null;
  render();
}

export function setUpDigit() {
  resetCanvas();
  panel.dataset.busy = "false";
  canvas.addEventListener("pointerdown", (event) => {
    canvas.focus(); // preventDefault below also stops the focus a click would give
    canvas.setPointerCapture(event.pointerId);
    drawing = true;
    last = pointFrom(event);
    dot(last);
    clearTimeout(timer);
    event.preventDefault();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    // Coalesced events keep fast strokes smooth where the browser batches pointer moves.
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
    for (const e of events.length ? events : [event]) {
      const point = pointFrom(e);
      segment(last, point);
      last = point;
    }
  });
  for (const type of ["pointerup", "pointercancel"]) {
    canvas.addEventListener(type, () => {
      if (!drawing) return;
      drawing = false;
      schedulePrediction();
    });
  }
  canvas.addEventListener("keydown", (event) => {
    const moves = { ArrowUp: [0, -1], ArrowDown: [0, 1], ArrowLeft: [-1, 0], ArrowRight: [1, 0] };
    if (event.key in moves) {
      const [dx, dy] = moves[event.key];
      const next = {
        x: Math.min(canvas.width, Math.max(0, pen.x + dx * KEY_STEP)),
        y: Math.min(canvas.height, Math.max(0, pen.y + dy * KEY_STEP)),
      };
      if (!event.shiftKey) segment(pen, next);
      pen = next;
      schedulePrediction();
    } else if (event.key === "Enter") {
      predict();
    } else if (event.key === "Escape") {
      clear();
    } else {
      return;
    }
    event.preventDefault();
  });
  document.getElementById("digit-clear").addEventListener("click", clear);
  document.getElementById("digit-predict").addEventListener("click", predict);
  saliencyToggle.addEventListener("change", render);
  document.addEventListener("languagechange", render);
  render();
}
