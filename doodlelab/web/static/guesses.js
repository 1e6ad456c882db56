// doodlelab page, the answers: the top-5 list, the top guess in the bar docked under the canvas (in view on
// a phone while drawing), the status line, and errors (role="alert", until the next action). Used by app.js.
"use strict";

window.doodlelabGuesses = (() => {
  const $ = (id) => document.getElementById(id);
  const list = $("predictions");
  const status = $("status");
  const errorBox = $("error"); // role="alert": empty unless the last action failed
  const top = { name: $("top-name"), pct: $("top-pct"), fill: $("top-fill") };
  const IDLE = "draw something and I will guess";
  let current = null; // the top guess's category (null: none shown)

  function setStatus(text) {
    status.textContent = text;
  }

  // An error replaces the guesses (no "draw something" placeholder beside it) until the next action.
  function showError(message) {
    list.classList.add("failed");
    if (!list.children.length) setTop(null, "no guess");
    errorBox.textContent = message;
  }

  function clearError() {
    if (!errorBox.textContent) return;
    errorBox.textContent = "";
    list.classList.remove("failed");
    if (!list.children.length) setTop(null, IDLE);
  }

  function setTop(guess, placeholder) {
    // The top guess in the bar under the canvas; the name alone is announced, and only when it changes.
    current = guess ? guess.category : null;
    const name = guess ? guess.category : placeholder;
    if (top.name.textContent !== name) top.name.textContent = name;
    top.name.classList.toggle("placeholder", !guess);
    top.pct.textContent = guess ? `${(guess.probability * 100).toFixed(1)}%` : "";
    top.fill.style.width = guess ? `${Math.max(0, Math.min(1, guess.probability)) * 100}%` : "0";
  }

  function showPredictions(predictions) {
    list.replaceChildren(
      ...predictions.map(({ category, probability }) => {
        const li = document.createElement("li");
        li.dataset.testid = "prediction";
        li.setAttribute("data-testid", "prediction");
        const name = document.createElement("span");
        name.className = "name";
        name.textContent = category;
        const pct = document.createElement("span");
        pct.className = "pct";
        pct.textContent = `${(probability * 100).toFixed(1)}%`;
        const bar = document.createElement("span");
        bar.className = "bar";
        bar.setAttribute("aria-hidden", "true");
        const fill = document.createElement("span");
        fill.style.width = `${Math.max(0, Math.min(1, probability)) * 100}%`;
        bar.append(fill);
        li.append(name, pct, bar);
        return li;
      }),
    );
    list.dataset.count = String(predictions.length);
    setTop(predictions[0] || null, IDLE);
    if (!predictions.length) setStatus("");
  }

  setTop(null, IDLE);
  return { showPredictions, showError, clearError, setStatus, topGuess: () => current };
})();
