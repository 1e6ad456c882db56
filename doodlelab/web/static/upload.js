// doodlelab page: the ways to give the canvas an image (the upload button, dropping a file on the canvas,
// pasting one); app.js shows it and has the server name it (window.doodlelab.useImage). No build step.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const canvas = $("canvas");

  $("upload-button").addEventListener("click", () => $("upload").click()); // the one upload control
  $("upload").addEventListener("change", (event) => {
    const file = event.target.files && event.target.files[0];
    if (file) window.doodlelab.useImage(file);
    event.target.value = "";
  });

  canvas.addEventListener("dragover", (event) => {
    event.preventDefault();
    canvas.classList.add("dropping");
  });
  canvas.addEventListener("dragleave", () => canvas.classList.remove("dropping"));
  canvas.addEventListener("drop", (event) => {
    event.preventDefault();
    canvas.classList.remove("dropping");
    const file = event.dataTransfer && event.dataTransfer.files[0];
    if (file) window.doodlelab.useImage(file);
  });

  document.addEventListener("paste", (event) => {
    const items = (event.clipboardData && event.clipboardData.items) || [];
    for (const item of items) {
      if (item.kind === "file" && item.type.startsWith("image/")) {
        event.preventDefault();
        window.doodlelab.useImage(item.getAsFile());
        return;
      }
    }
  });
})();
